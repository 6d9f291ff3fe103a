-- No e-mail address, card number or Russian phone number may survive masking in a
-- knowledge document (they would be embedded and quoted back to staff), except the
-- organisation's own contacts listed in kb_public_contacts, which masking keeps.
with

documents as (

    select * from {{ ref('kb_documents') }}

),

public_contacts as (

    select * from {{ ref('kb_public_contacts') }}

),

emails as (

    select
        documents.document_id,
        lower(matches.found[1]) as email
    from documents
    cross join lateral regexp_matches(
        documents.body,
        '([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})',
        'g'
    ) as matches (found)

),

phones as (

    select
        documents.document_id,
        matches.found[1] as phone
    from documents
    cross join lateral regexp_matches(
        documents.body,
        '(?<![0-9+])((?:\+7|8)[\s(-]{0,2}[0-9]{3}[\s)-]{0,2}[0-9]{3}[\s-]?[0-9]{2}[\s-]?[0-9]{2})(?![0-9])',
        'g'
    ) as matches (found)

),

leaked_emails as (

    select
        emails.document_id,
        emails.email as leaked
    from emails
    where not exists (
        select 1
        from public_contacts
        where
            (public_contacts.contact_kind = 'email' and public_contacts.contact_value = emails.email)
            or (
                public_contacts.contact_kind = 'domain'
                and (
                    split_part(emails.email, '@', 2) = public_contacts.contact_value
                    or split_part(emails.email, '@', 2) like '%.' || public_contacts.contact_value
                )
            )
    )

),

leaked_phones as (

    select
        phones.document_id,
        phones.phone as leaked
    from phones
    where not exists (
        select 1
        from public_contacts
        where
            public_contacts.contact_kind = 'phone'
            and public_contacts.contact_value = right(regexp_replace(phones.phone, '[^0-9]', '', 'g'), 10)
    )

),

leaked_cards as (

    select
        document_id,
        substring(body from '(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){3}(?![0-9])') as leaked
    from documents
    where body ~ '(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){3}(?![0-9])'

),

final as (

    select * from leaked_emails
    union all
    select * from leaked_phones
    union all
    select * from leaked_cards

)

select * from final

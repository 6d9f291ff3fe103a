{#- The organisation's own contacts, which masking keeps (docs/privacy.md). The rule is
    the one of assistant/masking/public.py: allow-listed (var public_contacts), an e-mail
    domain of the staff's own accounts, or seen in at least public_contact_min_sources
    distinct sources — a knowledge-base page, or the staff replies to one customer. -#}
with

pages as (

    select * from {{ ref('stg_confluence__pages') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

tasks as (

    select * from {{ ref('stg_pyrus__tasks') }}

),

comments as (

    select * from {{ ref('stg_pyrus__comments') }}

),

-- One source per page, one per customer for the staff replies they received.
source_texts as (

    select
        'page:' || pages.page_id as source_key,
        coalesce(pages.body_storage, '') as body_text
    from pages
    where not pages.is_deleted

    union all

    select
        'customer:' || coalesce(tasks.author_id::text, 'ticket:' || events.ticket_id) as source_key,
        events.body_text
    from events
    inner join tasks on events.ticket_id = tasks.ticket_id
    where events.event_type = 'staff_public' and events.body_text is not null

),

found_emails as (

    select
        source_texts.source_key,
        'email' as contact_kind,
        lower(matches.found[1]) as contact_value,
        lower(matches.found[1]) as display_value
    from source_texts
    cross join lateral regexp_matches(
        source_texts.body_text,
        '([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})',
        'g'
    ) as matches (found)

),

found_phones as (

    select
        source_texts.source_key,
        'phone' as contact_kind,
        right(regexp_replace(matches.found[1], '[^0-9]', '', 'g'), 10) as contact_value,
        matches.found[1] as display_value
    from source_texts
    cross join lateral regexp_matches(
        source_texts.body_text,
        '(?<![0-9+])((?:\+7|8|7)[\s(-]{0,2}[0-9]{3}[\s)-]{0,2}[0-9]{3}[\s-]?[0-9]{2}[\s-]?[0-9]{2})(?![0-9])',
        'g'
    ) as matches (found)

),

repeated_contacts as (

    select
        contact_kind,
        contact_value,
        min(display_value) as display_value,
        count(distinct source_key) as n_sources
    from (
        select * from found_emails
        union all
        select * from found_phones
    ) as found
    group by contact_kind, contact_value
    having count(distinct source_key) >= {{ var('public_contact_min_sources', 3) }}

),

staff_domains as (

    select
        'domain' as contact_kind,
        lower(split_part(comments.author_email, '@', 2)) as contact_value,
        lower(split_part(comments.author_email, '@', 2)) as display_value,
        count(distinct comments.comment_id) as n_sources
    from comments
    inner join events on comments.comment_id = events.comment_id
    where
        events.actor_class = 'staff'
        and comments.author_email ~ '^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$'
    group by lower(split_part(comments.author_email, '@', 2))

),

allow_listed as (

    select
        case
            when item ~ '^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$' then 'email'
            when item ~ '^@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$' then 'domain'
            when
                item ~ '^[0-9\s()+-]+$' and length(regexp_replace(item, '[^0-9]', '', 'g')) >= 7
                then 'phone'
            else 'text'
        end as contact_kind,
        item
    from unnest(array[
        {%- for item in var_list('public_contacts') %}
        '{{ item | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor %}
    ]::text[]) as allow_list (item)

),

allow_listed_normalized as (

    select
        contact_kind,
        case contact_kind
            when 'email' then lower(item)
            when 'domain' then lower(ltrim(item, '@'))
            when 'phone' then right(regexp_replace(item, '[^0-9]', '', 'g'), 10)
            else item
        end as contact_value,
        item as display_value
    from allow_listed

),

found_contacts as (

    select * from repeated_contacts
    union all
    select * from staff_domains

),

unioned as (

    select
        contact_kind,
        contact_value,
        display_value,
        true as is_allow_listed,
        0::bigint as n_sources
    from allow_listed_normalized
    union all
    select
        contact_kind,
        contact_value,
        display_value,
        false as is_allow_listed,
        n_sources
    from found_contacts

),

final as (

    select
        contact_kind || ':' || contact_value as contact_id,
        contact_kind,
        contact_value,
        min(display_value) as display_value,
        bool_or(is_allow_listed) as is_allow_listed,
        max(n_sources) as n_sources
    from unioned
    where contact_value <> ''
    group by contact_kind, contact_value

)

select * from final

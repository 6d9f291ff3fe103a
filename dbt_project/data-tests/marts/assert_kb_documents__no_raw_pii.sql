-- No e-mail address, card number or Russian phone number may survive masking in a
-- knowledge document (they would be embedded and quoted back to staff).
select
    document_id,
    substring(body from '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}')
        as email,
    substring(body from '(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){3}(?![0-9])') as card,
    substring(
        body from '(?<![0-9+])(?:\+7|8)[\s(-]{0,2}[0-9]{3}[\s)-]{0,2}[0-9]{3}[\s-]?[0-9]{2}[\s-]?[0-9]{2}(?![0-9])'
    ) as phone
from {{ ref('kb_documents') }}
where
    body ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}'
    or body ~ '(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){3}(?![0-9])'
    or body ~ '(?<![0-9+])(?:\+7|8)[\s(-]{0,2}[0-9]{3}[\s)-]{0,2}[0-9]{3}[\s-]?[0-9]{2}[\s-]?[0-9]{2}(?![0-9])'

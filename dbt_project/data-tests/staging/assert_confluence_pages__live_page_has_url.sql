-- Every live page needs an absolute web link: citations in bot comments point there.
select
    page_id,
    web_url
from {{ ref('stg_confluence__pages') }}
where not is_deleted and (web_url is null or web_url !~ '^https?://')

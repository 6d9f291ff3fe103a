-- The first substantive reply is never earlier than the first reply of any kind.
select
    ticket_id,
    first_response_at,
    first_substantive_response_at
from {{ ref('fct_tickets') }}
where
    first_substantive_response_at < first_response_at
    or (first_substantive_response_at is not null and first_response_at is null)

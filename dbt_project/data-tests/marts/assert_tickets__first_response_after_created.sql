-- The first response can never precede the ticket's creation.
select
    ticket_id,
    created_at,
    first_response_at
from {{ ref('fct_tickets') }}
where first_response_at < created_at

-- Closing happens after creation, the first close no later than the last one, and a
-- ticket closed only once was never reopened before that close.
select
    ticket_id,
    created_at,
    first_closed_at,
    last_closed_at,
    reopen_count
from {{ ref('fct_tickets') }}
where
    first_closed_at < created_at
    or first_closed_at > last_closed_at
    or reopen_count < 0

-- A public reply is always a staff message: bot posts, customer messages and system
-- events must never be marked public (they would corrupt first response times).
select
    event_id,
    event_type,
    actor_class
from {{ ref('int_ticket_events_classified') }}
where
    is_public_reply
    and (actor_class <> 'staff' or event_type <> 'staff_public')

-- first_response_at must be the time of a public staff reply, never of a bot post or an
-- internal note (docs/effect-measurement.md §5 pitfall 1: bot contamination of first response).
select
    tickets.ticket_id,
    tickets.first_response_at
from {{ ref('fct_tickets') }} as tickets
where
    tickets.first_response_at is not null
    and not exists (
        select 1
        from {{ ref('fct_ticket_events') }} as events
        where
            events.ticket_id = tickets.ticket_id
            and events.event_at = tickets.first_response_at
            and events.event_type = 'staff_public'
            and events.actor_class = 'staff'
    )

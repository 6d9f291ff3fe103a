-- A closed ticket whose comments were loaded must have a close event (a comment with
-- action = finished); otherwise close and reopen times are invented from close_date.
select tickets.ticket_id
from {{ ref('fct_tickets') }} as tickets
where
    tickets.is_closed
    and exists (
        select 1
        from {{ ref('fct_ticket_events') }} as events
        where events.ticket_id = tickets.ticket_id and events.comment_id is not null
    )
    and not exists (
        select 1
        from {{ ref('fct_ticket_events') }} as events
        where events.ticket_id = tickets.ticket_id and events.event_type = 'closed'
    )

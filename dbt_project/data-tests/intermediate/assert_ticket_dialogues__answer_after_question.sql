-- The resolving answer cannot predate the ticket.
select
    ticket_dialogues.ticket_id,
    ticket_dialogues.answered_at,
    stg_tasks.created_at
from {{ ref('int_ticket_dialogues') }} as ticket_dialogues
inner join {{ ref('stg_pyrus__tasks') }} as stg_tasks
    on ticket_dialogues.ticket_id = stg_tasks.ticket_id
where ticket_dialogues.answered_at < stg_tasks.created_at

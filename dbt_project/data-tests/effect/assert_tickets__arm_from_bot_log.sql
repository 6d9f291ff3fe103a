-- A post-rollout ticket's arm is exactly what the bot logged at decision time (never
-- recomputed or inferred from whether a comment exists).
select
    tickets.ticket_id,
    tickets.assignment_arm,
    suggestions.arm as logged_arm
from {{ ref('fct_tickets') }} as tickets
left join {{ ref('stg_assistant__suggestions') }} as suggestions
    on tickets.ticket_id = suggestions.ticket_id
where
    tickets.assignment_arm in ('treatment', 'holdout')
    and tickets.assignment_arm is distinct from suggestions.arm

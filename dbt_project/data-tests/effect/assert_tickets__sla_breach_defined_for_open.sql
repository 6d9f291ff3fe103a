-- An unanswered ticket that has a target gets a breach flag (breach-by-now), never null.
select ticket_id
from {{ ref('fct_tickets') }}
where
    frt_sla_target_bm is not null
    and first_response_at is null
    and is_frt_sla_breached is null

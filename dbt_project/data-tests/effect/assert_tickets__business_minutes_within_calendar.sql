-- Business time can never exceed calendar time.
select
    ticket_id,
    frt_bm,
    frt_cal_min,
    full_resolution_bm,
    full_resolution_cal_min
from {{ ref('fct_tickets') }}
where
    frt_bm > frt_cal_min + 0.01
    or full_resolution_bm > full_resolution_cal_min + 0.01

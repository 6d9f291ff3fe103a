-- Working intervals end after they start and never overlap (business minutes would
-- double-count otherwise).
with

intervals as (

    select
        calendar_date,
        work_start,
        work_end,
        lead(work_start) over (order by work_start) as next_start
    from {{ ref('dim_work_interval') }}

)

select * from intervals
where work_end <= work_start or work_end > next_start

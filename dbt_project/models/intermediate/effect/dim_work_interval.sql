{{ config(
    post_hook="create index if not exists dim_work_interval_span_idx
        on {{ this }} (work_start, work_end)"
) }}

with

calendar_exceptions as (

    select * from {{ ref('ru_production_calendar') }}

),

work_hours as (

    select * from {{ ref('work_hours') }}

),

-- Every date the production calendar covers (2024–2027).
dates as (

    select generated_date::date as calendar_date
    from generate_series(
        (select date_trunc('year', min(calendar_date)) from calendar_exceptions),
        (
            select date_trunc('year', max(calendar_date)) + interval '1 year - 1 day'
            from calendar_exceptions
        ),
        interval '1 day'
    ) as generated_date

),

-- A weekday works unless it is a holiday; a weekend date works only when listed.
day_types as (

    select
        dates.calendar_date,
        extract(isodow from dates.calendar_date)::int as iso_weekday,
        coalesce(
            calendar_exceptions.day_type,
            case when extract(isodow from dates.calendar_date) <= 5 then 'workday' end
        ) as day_type
    from dates
    left join calendar_exceptions on dates.calendar_date = calendar_exceptions.calendar_date

),

working_days as (

    select
        day_types.calendar_date,
        day_types.day_type in ('shortened', 'workday_shortened') as is_shortened,
        coalesce(weekday_hours.start_time, monday_hours.start_time) as start_time,
        coalesce(weekday_hours.end_time, monday_hours.end_time) as end_time,
        coalesce(
            weekday_hours.shortened_end_time, monday_hours.shortened_end_time
        ) as shortened_end_time,
        coalesce(weekday_hours.timezone, monday_hours.timezone) as timezone
    from day_types
    left join work_hours as weekday_hours on day_types.iso_weekday = weekday_hours.iso_weekday
    left join work_hours as monday_hours on monday_hours.iso_weekday = 1
    where day_types.day_type in ('workday', 'shortened', 'workday_shortened')

),

final as (

    select
        calendar_date,
        is_shortened,
        timezone,
        (calendar_date + start_time) at time zone timezone as work_start,
        (
            calendar_date
            + case when is_shortened then coalesce(shortened_end_time, end_time) else end_time end
        ) at time zone timezone as work_end
    from working_days

)

select * from final

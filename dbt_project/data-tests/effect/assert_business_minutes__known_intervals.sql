-- business_minutes() on hand-checked intervals (Moscow = UTC+3, 09:00–18:00):
-- night creation starts at opening; weekends, holidays and shortened days count right.
with

cases as (

    select *
    from (
        values
        -- Tue 02:00 → Tue 09:30 MSK: the clock starts at 09:00.
        ('night_to_morning', '2026-11-24 02:00+03'::timestamptz, '2026-11-24 09:30+03'::timestamptz, 30),
        -- Fri 17:00 → Mon 10:00 MSK: one hour on Friday, one on Monday.
        ('over_weekend', '2026-11-20 17:00+03', '2026-11-23 10:00+03', 120),
        -- Tue 3 Nov 2026 is shortened (closes 17:00), Wed 4 Nov is a holiday.
        ('shortened_and_holiday', '2026-11-03 16:00+03', '2026-11-05 10:00+03', 120),
        -- A full working day.
        ('full_day', '2026-11-24 00:00+03', '2026-11-25 00:00+03', 540),
        -- Working Saturdays: 2 Nov 2024 shortened (09–17), 28 Dec 2024 full; 1 Jan 2025 off.
        ('working_saturday_shortened', '2024-11-02 00:00+03', '2024-11-03 00:00+03', 480),
        ('working_saturday', '2024-12-28 00:00+03', '2024-12-29 00:00+03', 540),
        ('new_year_holidays', '2024-12-31 00:00+03', '2025-01-09 00:00+03', 0),
        -- Reversed or empty intervals are zero.
        ('reversed', '2026-11-24 12:00+03', '2026-11-24 11:00+03', 0)
    ) as v (case_name, t0, t1, expected)

),

computed as (

    select
        case_name,
        expected,
        {{ business_minutes('t0', 't1') }} as actual
    from cases

)

select * from computed
where actual is distinct from expected

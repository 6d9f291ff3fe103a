{#- Business minutes between two timestamptz expressions: the length of the overlap of
    [t0, t1) with the team's working intervals (dim_work_interval),
    docs/effect-measurement.md §2.2. A ticket created at night starts its clock at the
    next opening. Null when either end is null; 0 when t1 <= t0; null outside the
    calendar's years (2024–2027: extend the seed). A scalar subquery, so it works in any
    select. -#}
{% macro business_minutes(t0, t1) -%}
    (
        case
            when ({{ t0 }}) is null or ({{ t1 }}) is null then null
            {#- Outside the calendar's years the answer is unknown, not zero. #}
            when
                ({{ t0 }}) < (select min(work_start) - interval '10 days' from {{ ref('dim_work_interval') }})
                or ({{ t1 }}) > (select max(work_end) + interval '3 days' from {{ ref('dim_work_interval') }})
                then null
            else (
                select
                    coalesce(
                        sum(
                            extract(
                                epoch from least(work.work_end, {{ t1 }})
                                - greatest(work.work_start, {{ t0 }})
                            )
                        ) / 60.0,
                        0
                    )::numeric(12, 2)
                from {{ ref('dim_work_interval') }} as work
                where
                    ({{ t1 }}) > ({{ t0 }})
                    and work.work_end > ({{ t0 }})
                    and work.work_start < ({{ t1 }})
            )
        end
    )
{%- endmacro %}

{#- Calendar minutes between two timestamptz expressions (null when either is null). -#}
{% macro calendar_minutes(t0, t1) -%}
    round((extract(epoch from ({{ t1 }}) - ({{ t0 }})) / 60.0)::numeric, 2)
{%- endmacro %}

{#- A short reply that only acknowledges the ticket ("приняли в работу", "ответим позже"):
    not an answer, so first_substantive_response_at skips it (guards FRT against gaming,
    docs/effect-measurement.md §2.3 and §5 pitfall 9). Under 150 characters and
    template-like. -#}
{% macro is_acknowledgement(text) -%}
    (
        coalesce(length({{ text }}), 0) < 150
        and {{ text }} ~* '(получил[аи]?|принял[аи]?|зарегистрировал[аи]?|взял[аи]? в работу|передал[аи]? специалист|ответим|свяжемся|разбираемся|уже смотрим)'
    )
{%- endmacro %}

with

estimates as (

    {{ source_or_empty('kb', 'effect_estimates', [
        ['metric', 'text'],
        ['segment', 'text'],
        ['comparison', 'text'],
        ['method', 'text'],
        ['rel_change', 'double precision'],
        ['ci95_low', 'double precision'],
        ['ci95_high', 'double precision'],
        ['mde_80', 'double precision'],
        ['is_powered', 'boolean'],
        ['category_standardised', 'boolean'],
        ['estimated_at', 'timestamptz'],
    ]) }}

),

final as (

    select
        metric || ':' || segment || ':' || comparison || ':' || method as estimate_key,
        metric,
        segment,
        comparison,
        method,
        rel_change,
        ci95_low,
        ci95_high,
        mde_80,
        is_powered,
        category_standardised,
        estimated_at
    from estimates
    where metric is not null

)

select * from final

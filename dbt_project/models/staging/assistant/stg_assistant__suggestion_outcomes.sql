with

outcomes as (

    {{ source_or_empty('assistant', 'suggestion_outcomes', [
        ['task_id', 'bigint'],
        ['draft_source', 'text'],
        ['sim_char', 'double precision'],
        ['draft_retention', 'double precision'],
        ['usage_class', 'text'],
        ['chance_class', 'text'],
        ['cited_sources', 'integer'],
        ['cited_sources_used', 'integer'],
        ['accepted_threshold', 'double precision'],
        ['edited_threshold', 'double precision'],
        ['calibration_pairs', 'integer'],
        ['scored_at', 'timestamptz'],
    ]) }}

),

final as (

    select
        task_id as ticket_id,
        draft_source,
        sim_char,
        draft_retention,
        usage_class,
        chance_class,
        cited_sources,
        cited_sources_used,
        accepted_threshold,
        edited_threshold,
        calibration_pairs,
        scored_at
    from outcomes
    where task_id is not null

)

select * from final

with

turn_outcomes as (

    {{ source_or_empty('assistant', 'suggestion_turn_outcomes', [
        ['turn_id', 'bigint'],
        ['sim_char', 'double precision'],
        ['draft_retention', 'double precision'],
        ['usage_class', 'text'],
        ['scored_at', 'timestamptz'],
    ]) }}

),

final as (

    select
        turn_id,
        sim_char,
        draft_retention,
        usage_class,
        scored_at
    from turn_outcomes
    where turn_id is not null

)

select * from final

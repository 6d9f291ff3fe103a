with

predictions as (

    {{ source_or_empty('kb', 'ticket_categories_current', [
        ['ticket_id', 'bigint'],
        ['category_code', 'text'],
        ['confidence', 'double precision'],
        ['method', 'text'],
        ['taxonomy_version', 'text'],
        ['model_version', 'text'],
        ['low_confidence', 'boolean'],
        ['categorized_at', 'timestamptz'],
    ]) }}

),

-- One row per ticket is expected from the view; the latest prediction wins regardless.
latest as (

    select distinct on (ticket_id)
        ticket_id,
        category_code,
        confidence,
        method,
        taxonomy_version,
        model_version,
        coalesce(low_confidence, false) as is_low_confidence,
        categorized_at
    from predictions
    where ticket_id is not null
    order by ticket_id asc, categorized_at desc nulls last, model_version desc nulls last

),

final as (

    select * from latest

)

select * from final

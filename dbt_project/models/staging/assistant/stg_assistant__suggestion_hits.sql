with

suggestions as (

    {{ source_or_empty('assistant', 'suggestions', [
        ['task_id', 'bigint'],
        ['retrieval', 'jsonb'],
        ['decided_at', 'timestamptz'],
        ['created_at', 'timestamptz'],
    ]) }}

),

-- The latest decision per ticket, as in stg_assistant__suggestions.
latest as (

    select distinct on (task_id)
        task_id as ticket_id,
        retrieval
    from suggestions
    where task_id is not null
    order by task_id, coalesce(decided_at, created_at) desc nulls last

),

hits as (

    select
        latest.ticket_id,
        hit.position as hit_position,
        hit.item ->> 'document_id' as document_id,
        coalesce(
            hit.item ->> 'source', split_part(hit.item ->> 'document_id', ':', 1)
        ) as document_source
    from latest
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(latest.retrieval) = 'array' then latest.retrieval else '[]'::jsonb end
    ) with ordinality as hit (item, position)

),

-- A document's rank is the position of its best chunk among the distinct documents of
-- its source: the bot lists pages and similar tickets separately (bot/suggest.py).
documents as (

    select
        ticket_id,
        document_id,
        min(document_source) as document_source,
        min(hit_position) as first_hit_position
    from hits
    where document_id is not null
    group by ticket_id, document_id

),

final as (

    select
        ticket_id,
        document_id,
        document_source,
        row_number() over (
            partition by ticket_id, document_source
            order by first_hit_position, document_id
        ) as document_rank
    from documents

)

select * from final

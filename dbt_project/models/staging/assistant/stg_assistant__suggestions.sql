with

suggestions as (

    {{ source_or_empty('assistant', 'suggestions', [
        ['task_id', 'bigint'],
        ['arm', 'text'],
        ['category_code', 'text'],
        ['posted_at', 'timestamptz'],
        ['comment_id', 'bigint'],
        ['recommendation', 'text'],
        ['draft_reply', 'text'],
        ['decided_at', 'timestamptz'],
        ['created_at', 'timestamptz'],
        ['generated_at', 'timestamptz'],
        ['origin', 'text'],
        ['mode', 'text'],
        ['retrieval', 'jsonb'],
        ['no_good_match', 'boolean'],
        ['cited_chunk_ids', 'jsonb'],
    ]) }}

),

renamed as (

    select distinct on (task_id)
        task_id as ticket_id,
        arm,
        category_code,
        coalesce(decided_at, created_at) as decided_at,
        posted_at,
        comment_id,
        recommendation,
        draft_reply,
        generated_at,
        origin,
        mode,
        retrieval,
        no_good_match,
        cited_chunk_ids
    from suggestions
    where task_id is not null
    order by task_id, coalesce(decided_at, created_at) desc nulls last

),

final as (

    select
        *,
        posted_at is not null as is_posted
    from renamed

)

select * from final

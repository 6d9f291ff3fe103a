with

turns as (

    {{ source_or_empty('assistant', 'suggestion_turns', [
        ['id', 'bigint'],
        ['task_id', 'bigint'],
        ['trigger_comment_id', 'bigint'],
        ['kind', 'text'],
        ['decided_at', 'timestamptz'],
        ['mode', 'text'],
        ['no_good_match', 'boolean'],
        ['cited_chunk_ids', 'jsonb'],
        ['cited_document_ids', 'jsonb'],
        ['repeated_steps', 'integer'],
        ['recommendation', 'text'],
        ['draft_reply', 'text'],
        ['generated_at', 'timestamptz'],
        ['posted_at', 'timestamptz'],
        ['comment_id', 'bigint'],
        ['reply_note_id', 'bigint'],
    ]) }}

),

renamed as (

    select
        id as turn_id,
        task_id as ticket_id,
        trigger_comment_id,
        kind as suggestion_kind,
        decided_at,
        mode,
        coalesce(no_good_match, false) as is_no_good_match,
        case
            when jsonb_typeof(cited_chunk_ids) = 'array' then cited_chunk_ids
            else '[]'::jsonb
        end as cited_chunk_ids,
        case
            when jsonb_typeof(cited_document_ids) = 'array' then cited_document_ids
            else '[]'::jsonb
        end as cited_document_ids,
        coalesce(repeated_steps, 0) as repeated_steps,
        recommendation,
        draft_reply,
        generated_at,
        posted_at,
        comment_id,
        reply_note_id
    from turns
    where id is not null

),

final as (

    select
        *,
        posted_at is not null as is_posted
    from renamed

)

select * from final

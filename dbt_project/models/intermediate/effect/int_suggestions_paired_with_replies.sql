with

suggestions as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

suggestion_log as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

tickets as (

    select * from {{ ref('int_ticket_effect_metrics') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

field_updates as (

    select * from {{ ref('int_ticket_field_updates_mapped') }}

),

-- The staff's first public reply: the text a draft is compared with.
first_replies as (

    select distinct on (events.ticket_id)
        events.ticket_id,
        events.comment_id as reply_comment_id,
        events.body_text as reply_text
    from events
    inner join tickets
        on
            events.ticket_id = tickets.ticket_id
            and events.event_at = tickets.first_response_at
    where events.event_type = 'staff_public'
    order by events.ticket_id, events.event_sequence

),

-- Everything staff wrote before closing the first time (replies and internal notes):
-- where a cited knowledge-base article would be mentioned.
staff_texts as (

    select
        events.ticket_id,
        string_agg(events.body_text, e'\n\n' order by events.event_sequence) as staff_text
    from events
    where events.actor_class = 'staff' and events.body_text is not null
    group by events.ticket_id

),

-- The draft the staff actually saw: the last draft-field value posted before the
-- first public reply (the bot writes it into the form's draft field with its comment).
shown_drafts as (

    select distinct on (field_updates.ticket_id)
        field_updates.ticket_id,
        field_updates.value_text as shown_draft,
        field_updates.updated_at as shown_at
    from field_updates
    inner join tickets on field_updates.ticket_id = tickets.ticket_id
    where
        field_updates.field_role = 'draft_reply'
        and field_updates.has_value
        and field_updates.updated_at < coalesce(tickets.first_response_at, 'infinity')
    order by field_updates.ticket_id asc, field_updates.comment_position desc

),

retrieval_scores as (

    select
        suggestion_log.ticket_id,
        max((hit ->> 'score')::double precision) as top1_score,
        count(hit) as retrieved_hits
    from suggestion_log
    cross join
        lateral jsonb_array_elements(
            case
                when jsonb_typeof(suggestion_log.retrieval) = 'array' then suggestion_log.retrieval
                else '[]'::jsonb
            end
        ) as hit
    group by suggestion_log.ticket_id

),

final as (

    select
        suggestions.ticket_id,
        suggestions.arm,
        suggestions.decided_at,
        suggestion_log.generated_at,
        suggestion_log.origin,
        suggestion_log.mode,
        coalesce(suggestion_log.no_good_match, false) as is_no_good_match,
        retrieval_scores.top1_score,
        coalesce(retrieval_scores.retrieved_hits, 0) as retrieved_hits,
        case
            when jsonb_typeof(suggestion_log.cited_chunk_ids) = 'array'
                then suggestion_log.cited_chunk_ids
            else '[]'::jsonb
        end as cited_chunk_ids,
        tickets.created_at,
        tickets.created_week_msk,
        tickets.category_at_creation,
        tickets.subject,
        coalesce(shown_drafts.shown_at, tickets.bot_posted_at) as posted_at,
        case
            when suggestions.arm = 'treatment' and shown_drafts.shown_draft is not null
                then shown_drafts.shown_draft
            else suggestions.draft_reply
        end as draft_text,
        case
            when suggestions.arm = 'treatment' and shown_drafts.shown_draft is not null
                then 'posted_comment'
            else 'suggestion_log'
        end as draft_source,
        tickets.first_response_at,
        first_replies.reply_comment_id,
        first_replies.reply_text,
        tickets.first_response_at is not null as is_replied,
        coalesce(
            suggestions.arm = 'treatment'
            and coalesce(shown_drafts.shown_at, tickets.bot_posted_at)
            < coalesce(tickets.first_response_at, 'infinity'),
            false
        ) as is_exposed,
        staff_texts.staff_text,
        tickets.assistant_feedback
    from suggestions
    inner join tickets on suggestions.ticket_id = tickets.ticket_id
    left join suggestion_log on suggestions.ticket_id = suggestion_log.ticket_id
    left join retrieval_scores on suggestions.ticket_id = retrieval_scores.ticket_id
    left join first_replies on suggestions.ticket_id = first_replies.ticket_id
    left join staff_texts on suggestions.ticket_id = staff_texts.ticket_id
    left join shown_drafts on suggestions.ticket_id = shown_drafts.ticket_id

)

select * from final

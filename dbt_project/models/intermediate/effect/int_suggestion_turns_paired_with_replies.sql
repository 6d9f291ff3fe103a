-- Each conversation turn with the staff's next public reply after the comment it
-- answers: the text a follow-up's draft is compared with (not the ticket's first reply).
with

turns as (

    select * from {{ ref('stg_assistant__suggestion_turns') }}

),

suggestions as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

triggers as (

    select distinct on (turns.turn_id)
        turns.turn_id,
        events.event_at as trigger_at,
        events.event_sequence as trigger_sequence
    from turns
    inner join events
        on
            turns.ticket_id = events.ticket_id
            and turns.trigger_comment_id = events.comment_id
    order by turns.turn_id, events.event_sequence

),

next_replies as (

    select distinct on (triggers.turn_id)
        triggers.turn_id,
        events.comment_id as reply_comment_id,
        events.event_at as reply_at,
        events.body_text as reply_text
    from triggers
    inner join turns on triggers.turn_id = turns.turn_id
    inner join events
        on
            turns.ticket_id = events.ticket_id
            and triggers.trigger_sequence < events.event_sequence
    where events.event_type = 'staff_public'
    order by triggers.turn_id, events.event_sequence

),

final as (

    select
        turns.turn_id,
        turns.ticket_id,
        turns.trigger_comment_id,
        turns.suggestion_kind,
        suggestions.arm,
        turns.decided_at,
        turns.generated_at,
        turns.posted_at,
        turns.mode,
        turns.is_no_good_match,
        turns.cited_chunk_ids,
        turns.repeated_steps,
        turns.draft_reply as draft_text,
        triggers.trigger_at,
        next_replies.reply_comment_id,
        next_replies.reply_at,
        next_replies.reply_text,
        next_replies.reply_comment_id is not null as is_replied,
        coalesce(
            suggestions.arm = 'treatment'
            and turns.posted_at < coalesce(next_replies.reply_at, 'infinity'),
            false
        ) as is_exposed
    from turns
    inner join suggestions on turns.ticket_id = suggestions.ticket_id
    left join triggers on turns.turn_id = triggers.turn_id
    left join next_replies on turns.turn_id = next_replies.turn_id

)

select * from final

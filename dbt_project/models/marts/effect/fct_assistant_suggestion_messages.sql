{#- A view, like fct_assistant_suggestions: the score stage writes outcomes after the
    marts stage. -#}
{{ config(materialized='view') }}

with

first_suggestions as (

    select * from {{ ref('fct_assistant_suggestions') }}

),

turns as (

    select * from {{ ref('int_suggestion_turns_paired_with_replies') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

turn_outcomes as (

    select * from {{ ref('stg_assistant__suggestion_turn_outcomes') }}

),

-- The first suggestion answers the ticket's opening message.
opening_messages as (

    select distinct on (ticket_id)
        ticket_id,
        comment_id as trigger_comment_id
    from events
    where event_type = 'customer_msg' and comment_id is not null
    order by ticket_id, event_sequence

),

firsts as (

    select
        first_suggestions.ticket_id::text || ':first' as suggestion_message_id,
        first_suggestions.ticket_id,
        opening_messages.trigger_comment_id,
        'first' as suggestion_kind,
        first_suggestions.arm,
        first_suggestions.mode,
        first_suggestions.decided_at,
        first_suggestions.posted_at,
        first_suggestions.matched_reply_comment_id as reply_comment_id,
        first_suggestions.is_replied,
        first_suggestions.is_exposed,
        first_suggestions.is_no_good_match,
        first_suggestions.n_cited_chunks,
        0 as repeated_steps,
        first_suggestions.sim_char,
        first_suggestions.draft_retention,
        first_suggestions.usage_class
    from first_suggestions
    left join opening_messages on first_suggestions.ticket_id = opening_messages.ticket_id

),

later_turns as (

    select
        turns.ticket_id::text || ':' || turns.trigger_comment_id::text as suggestion_message_id,
        turns.ticket_id,
        turns.trigger_comment_id,
        turns.suggestion_kind,
        turns.arm,
        turns.mode,
        turns.decided_at,
        turns.posted_at,
        turns.reply_comment_id,
        turns.is_replied,
        turns.is_exposed,
        turns.is_no_good_match,
        jsonb_array_length(turns.cited_chunk_ids) as n_cited_chunks,
        turns.repeated_steps,
        turn_outcomes.sim_char,
        turn_outcomes.draft_retention,
        coalesce(
            turn_outcomes.usage_class,
            case
                when turns.suggestion_kind = 'question' then 'not_a_draft'
                when turns.arm = 'holdout' then 'shadow'
                when not turns.is_replied then 'no_reply_yet'
                when not turns.is_exposed then 'not_exposed'
            end,
            'not_scored'
        ) as usage_class
    from turns
    left join turn_outcomes on turns.turn_id = turn_outcomes.turn_id

),

final as (

    select * from firsts
    union all
    select * from later_turns

)

select * from final

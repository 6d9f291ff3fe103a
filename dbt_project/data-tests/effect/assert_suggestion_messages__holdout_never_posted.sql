-- A holdout ticket never gets a bot comment, whatever the kind of suggestion: the arm is
-- decided once per ticket, and follow-ups and answers to questions are logged, not posted
-- (docs/conversation.md).
with

messages as (

    select * from {{ ref('fct_assistant_suggestion_messages') }}

),

final as (

    select
        suggestion_message_id,
        suggestion_kind,
        posted_at
    from messages
    where arm = 'holdout' and posted_at is not null

)

select * from final

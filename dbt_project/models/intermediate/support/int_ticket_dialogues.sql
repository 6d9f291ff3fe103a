with

tasks as (

    select * from {{ ref('int_ticket_fields_pivoted_to_tickets') }}

),

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

predicted_categories as (

    select * from {{ ref('stg_kb__ticket_categories') }}

),

closes as (

    select
        ticket_id,
        max(event_at) as last_closed_at
    from events
    where event_type = 'closed'
    group by ticket_id

),

first_customer_messages as (

    select distinct on (ticket_id)
        ticket_id,
        body_text as customer_message
    from events
    where event_type = 'customer_msg'
    order by ticket_id, event_at, event_sequence

),

-- The answer that resolved the ticket: the last public staff reply sent before the
-- last close (or the last one at all when the close came first).
resolving_replies as (

    select distinct on (events.ticket_id)
        events.ticket_id,
        events.comment_id as answer_comment_id,
        events.event_at as answered_at,
        events.body_text as answer_text
    from events
    left join closes on events.ticket_id = closes.ticket_id
    where events.event_type = 'staff_public'
    order by
        events.ticket_id asc,
        events.event_at <= coalesce(closes.last_closed_at, 'infinity'::timestamptz) desc,
        events.event_at desc,
        events.event_sequence desc

),

final as (

    select
        tasks.ticket_id,
        tasks.subject,
        coalesce(
            tasks.description,
            first_customer_messages.customer_message,
            tasks.subject
        ) as question_text,
        resolving_replies.answer_text,
        resolving_replies.answer_comment_id,
        resolving_replies.answered_at,
        coalesce(closes.last_closed_at, tasks.closed_at) as closed_at,
        coalesce(tasks.category_code, predicted_categories.category_code) as category_code,
        tasks.last_modified_at,
        tasks.is_deleted
    from tasks
    inner join resolving_replies on tasks.ticket_id = resolving_replies.ticket_id
    left join first_customer_messages
        on tasks.ticket_id = first_customer_messages.ticket_id
    left join closes on tasks.ticket_id = closes.ticket_id
    left join predicted_categories on tasks.ticket_id = predicted_categories.ticket_id
    where tasks.is_closed

)

select * from final

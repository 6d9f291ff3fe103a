with

events as (

    select * from {{ ref('int_ticket_events_classified') }}

),

tasks as (

    select * from {{ ref('stg_pyrus__tasks') }}

),

final as (

    select
        events.event_id,
        events.ticket_id,
        events.comment_id,
        events.event_at,
        events.event_type,
        events.event_sequence,
        events.actor_class,
        events.author_id as actor_id,
        events.author_name as actor_name,
        events.is_public_reply,
        events.channel_type,
        events.channel_direction,
        events.text_length,
        events.spent_minutes,
        events.old_category_code,
        events.new_category_code
    from events
    inner join tasks on events.ticket_id = tasks.ticket_id
    where not tasks.is_deleted

)

select * from final

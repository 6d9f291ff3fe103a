{%- set bot_ids = var_list('assistant_bot_person_ids') -%}
{%- set staff_ids = var_list('pyrus_staff_person_ids') -%}
{#- `in (null)` matches nothing, so an empty list needs no special case. -#}
{%- set bot_id_list = (bot_ids | join(', ')) if bot_ids else 'null' -%}

with

tasks as (

    select * from {{ ref('stg_pyrus__tasks') }}

),

comments as (

    select * from {{ ref('stg_pyrus__comments') }}

),

field_updates as (

    select * from {{ ref('int_ticket_field_updates_mapped') }}

),

-- A channel with both `from` and `to` goes out when it is addressed to the ticket's
-- author and comes in when it is sent from the author's address.
comment_channels as (

    select
        comments.*,
        tasks.author_id as ticket_author_id,
        coalesce(
            comments.channel_direction,
            case
                when comments.channel_type is null then null
                when lower(comments.channel_to_email) = tasks.author_email then 'outbound'
                when lower(comments.channel_from_email) = tasks.author_email then 'inbound'
            end
        ) as addressed_direction
    from comments
    inner join tasks on comments.ticket_id = tasks.ticket_id

),

-- People who act for the support team: users a ticket is assigned to, senders of
-- messages that went out to a customer, members with a department, configured ids.
staff_persons as (

    select responsible_id as person_id
    from tasks
    where responsible_id is not null and responsible_type in ('user', 'role')

    union

    select author_id as person_id
    from comment_channels
    where addressed_direction = 'outbound' and author_type in ('user', 'role')

    union

    select author_id as person_id
    from comments
    where author_has_department and author_type = 'user'
    {%- for person_id in staff_ids %}

    union

    select {{ person_id | int }}::bigint as person_id
    {%- endfor %}

),

comment_actors as (

    select
        comment_channels.*,
        case
            when
                comment_channels.author_type = 'bot'
                or comment_channels.author_id in ({{ bot_id_list }})
                then 'bot'
            when comment_channels.addressed_direction = 'inbound' then 'customer'
            when comment_channels.author_id is null then 'system'
            when comment_channels.author_type = 'role' then 'staff'
            when staff_persons.person_id is not null then 'staff'
            when comment_channels.author_id = comment_channels.ticket_author_id then 'customer'
            -- Someone outside the team writing in through a channel (a customer's colleague).
            when
                comment_channels.channel_type <> 'private_channel'
                and comment_channels.addressed_direction is null
                then 'customer'
            else 'staff'
        end as actor_class
    from comment_channels
    left join staff_persons on comment_channels.author_id = staff_persons.person_id

),

-- A channel without an explicit direction (a messenger) goes the way its author faces.
comment_directions as (

    select
        *,
        coalesce(
            addressed_direction,
            case
                when channel_type is null then null
                when actor_class = 'staff' then 'outbound'
                when actor_class = 'customer' then 'inbound'
            end
        ) as resolved_direction
    from comment_actors

),

classified_comments as (

    select
        *,
        coalesce(
            actor_class = 'staff'
            and resolved_direction = 'outbound'
            and channel_type <> 'private_channel',
            false
        ) as is_public_reply
    from comment_directions

),

created_events as (

    select
        tasks.ticket_id || ':created' as event_id,
        tasks.ticket_id,
        null::bigint as comment_id,
        tasks.created_at as event_at,
        'created' as event_type,
        0 as event_rank,
        case
            when tasks.author_type = 'bot' then 'bot'
            when staff_persons.person_id is not null then 'staff'
            else 'customer'
        end as actor_class,
        tasks.author_id,
        tasks.author_name,
        tasks.author_type,
        false as is_public_reply,
        null::text as channel_type,
        null::text as channel_direction,
        null::text as body_text,
        null::bigint as spent_minutes,
        null::text as old_category_code,
        null::text as new_category_code
    from tasks
    left join staff_persons on tasks.author_id = staff_persons.person_id
    where tasks.created_at is not null

),

message_events as (

    select
        comment_id || ':' || 'message' as event_id,
        ticket_id,
        comment_id,
        created_at as event_at,
        case
            when actor_class = 'customer' then 'customer_msg'
            when actor_class = 'bot' then 'bot_post'
            when actor_class = 'system' then 'system_msg'
            when is_public_reply then 'staff_public'
            else 'staff_internal'
        end as event_type,
        1 as event_rank,
        actor_class,
        author_id,
        author_name,
        author_type,
        is_public_reply,
        channel_type,
        resolved_direction as channel_direction,
        body_text,
        spent_minutes,
        null::text as old_category_code,
        null::text as new_category_code
    from classified_comments
    where body_text is not null

),

action_events as (

    select
        comment_id || ':' || action as event_id,
        ticket_id,
        comment_id,
        created_at as event_at,
        case action when 'finished' then 'closed' else 'reopened' end as event_type,
        2 as event_rank,
        actor_class,
        author_id,
        author_name,
        author_type,
        false as is_public_reply,
        channel_type,
        resolved_direction as channel_direction,
        null::text as body_text,
        spent_minutes,
        null::text as old_category_code,
        null::text as new_category_code
    from classified_comments
    where action is not null

),

category_updates as (

    select
        field_updates.*,
        lag(field_updates.category_code) over (
            partition by field_updates.ticket_id
            order by field_updates.comment_position
        ) as previous_category_code
    from field_updates
    where field_updates.field_role = 'category'

),

-- The value set by the ticket's first comment is the initial one, not a change.
category_events as (

    select
        category_updates.comment_id || ':category' as event_id,
        category_updates.ticket_id,
        category_updates.comment_id,
        category_updates.updated_at as event_at,
        'category_changed' as event_type,
        3 as event_rank,
        classified_comments.actor_class,
        classified_comments.author_id,
        classified_comments.author_name,
        classified_comments.author_type,
        false as is_public_reply,
        classified_comments.channel_type,
        classified_comments.resolved_direction as channel_direction,
        null::text as body_text,
        classified_comments.spent_minutes,
        category_updates.previous_category_code as old_category_code,
        category_updates.category_code as new_category_code
    from category_updates
    inner join classified_comments
        on category_updates.comment_id = classified_comments.comment_id
    where
        category_updates.comment_position > 1
        and category_updates.category_code is distinct from category_updates.previous_category_code

),

unioned as (

    select * from created_events
    union all
    select * from message_events
    union all
    select * from action_events
    union all
    select * from category_events

),

-- spent_minutes belongs to a comment: keep it on the comment's first event only.
final as (

    select
        event_id,
        ticket_id,
        comment_id,
        event_at,
        event_type,
        row_number() over (
            partition by ticket_id
            order by event_at, event_rank, comment_id
        ) as event_sequence,
        actor_class,
        author_id,
        author_name,
        author_type,
        is_public_reply,
        channel_type,
        channel_direction,
        body_text,
        length(body_text) as text_length,
        case
            when
                comment_id is null
                or row_number() over (partition by comment_id order by event_rank) = 1
                then spent_minutes
        end as spent_minutes,
        old_category_code,
        new_category_code
    from unioned

)

select * from final

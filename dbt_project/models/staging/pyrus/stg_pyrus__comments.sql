with

tasks as (

    select * from {{ source('pyrus', 'pyrus_tasks') }}

),

comments as (

    select
        tasks.task_id as ticket_id,
        comment_item.value as comment,
        comment_item.ordinality as comment_position
    from tasks
    cross join
        jsonb_array_elements({{ jsonb_array_or_empty("tasks.payload -> 'comments'") }})
        with ordinality as comment_item (value, ordinality)

),

renamed as (

    select
        {{ jsonb_bigint("comment -> 'id'") }} as comment_id,
        ticket_id,
        comment_position,
        {{ pyrus_timestamp("comment ->> 'create_date'") }} as created_at,
        {{ jsonb_bigint("comment -> 'author' -> 'id'") }} as author_id,
        {{ pyrus_person_name("comment -> 'author'") }} as author_name,
        nullif(comment -> 'author' ->> 'email', '') as author_email,
        {{ pyrus_person_type("comment -> 'author'") }} as author_type,
        comment -> 'author' ? 'department_id' as author_has_department,
        nullif(trim(comment ->> 'text'), '') as comment_text,
        {{ html_to_text("comment ->> 'formatted_text'") }} as formatted_text_plain,
        case
            when comment ->> 'action' in ('finished', 'reopened') then comment ->> 'action'
        end as action,
        nullif(comment -> 'channel' ->> 'type', '') as channel_type,
        case
            when jsonb_typeof(comment -> 'channel') <> 'object' then null
            when lower(comment -> 'channel' ->> 'direction') in ('inbound', 'outbound')
                then lower(comment -> 'channel' ->> 'direction')
            when comment -> 'channel' ->> 'type' = 'private_channel' then 'internal'
            -- Both `from` and `to` (a mailbox on each side): decided downstream, where
            -- the ticket author's address is known.
            when
                jsonb_typeof(comment -> 'channel' -> 'to') = 'object'
                and jsonb_typeof(comment -> 'channel' -> 'from') = 'object'
                then null
            when jsonb_typeof(comment -> 'channel' -> 'to') = 'object' then 'outbound'
            when jsonb_typeof(comment -> 'channel' -> 'from') = 'object' then 'inbound'
        end as channel_direction,
        nullif(comment -> 'channel' -> 'from' ->> 'email', '') as channel_from_email,
        nullif(comment -> 'channel' -> 'to' ->> 'email', '') as channel_to_email,
        {{ jsonb_bigint("comment -> 'spent_minutes'") }} as spent_minutes,
        {{ jsonb_bigint("comment -> 'reply_note_id'") }} as reply_to_comment_id,
        {{ jsonb_bigint("comment -> 'changed_step'") }} as changed_step,
        jsonb_array_length(
            {{ jsonb_array_or_empty("comment -> 'field_updates'") }}
        ) as field_update_count,
        jsonb_array_length(
            {{ jsonb_array_or_empty("comment -> 'attachments'") }}
        ) as attachment_count
    from comments

),

final as (

    select
        comment_id,
        ticket_id,
        comment_position,
        created_at,
        author_id,
        author_name,
        author_email,
        author_type,
        author_has_department,
        comment_text,
        formatted_text_plain,
        coalesce(comment_text, formatted_text_plain) as body_text,
        action,
        channel_type,
        channel_direction,
        channel_from_email,
        channel_to_email,
        spent_minutes,
        reply_to_comment_id,
        changed_step,
        field_update_count,
        attachment_count
    from renamed
    where comment_id is not null

)

select * from final

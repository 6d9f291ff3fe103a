with

tasks as (

    select * from {{ source('pyrus', 'pyrus_tasks') }}

),

comments as (

    select
        tasks.task_id as ticket_id,
        coalesce(tasks.form_id, {{ jsonb_bigint("tasks.payload -> 'form_id'") }}) as form_id,
        comment_item.value as comment,
        comment_item.ordinality as comment_position
    from tasks
    cross join
        jsonb_array_elements({{ jsonb_array_or_empty("tasks.payload -> 'comments'") }})
        with ordinality as comment_item (value, ordinality)

),

top_level_updates as (

    select
        comments.ticket_id,
        comments.form_id,
        comments.comment_position,
        {{ jsonb_bigint("comments.comment -> 'id'") }} as comment_id,
        {{ pyrus_timestamp("comments.comment ->> 'create_date'") }} as updated_at,
        {{ jsonb_bigint("comments.comment -> 'author' -> 'id'") }} as author_id,
        field_update.value as field
    from comments
    cross join jsonb_array_elements({{ jsonb_array_or_empty("comments.comment -> 'field_updates'") }})
        as field_update (value)

),

title_children as (

    select
        top_level_updates.ticket_id,
        top_level_updates.form_id,
        top_level_updates.comment_position,
        top_level_updates.comment_id,
        top_level_updates.updated_at,
        top_level_updates.author_id,
        child.value as field
    from top_level_updates
    cross join
        jsonb_array_elements(
            {{ jsonb_array_or_empty("top_level_updates.field -> 'value' -> 'fields'") }}
        ) as child (value)
    where top_level_updates.field ->> 'type' = 'title'

),

all_updates as (

    select * from top_level_updates
    union all
    select * from title_children

),

parsed as (

    select distinct on (all_updates.comment_id, {{ jsonb_bigint("all_updates.field -> 'id'") }})
        all_updates.ticket_id,
        all_updates.form_id,
        all_updates.comment_id,
        all_updates.comment_position,
        all_updates.updated_at,
        all_updates.author_id,
        {{ jsonb_bigint("all_updates.field -> 'id'") }} as field_id,
        all_updates.field ->> 'name' as field_name,
        all_updates.field ->> 'type' as field_type,
        nullif(all_updates.field ->> 'code', '') as field_code,
        all_updates.field ? 'value'
        and all_updates.field -> 'value' <> 'null'::jsonb as has_value,
        {{ pyrus_field_value_columns("all_updates.field") }}
    from all_updates
    where all_updates.comment_id is not null
    order by all_updates.comment_id, {{ jsonb_bigint("all_updates.field -> 'id'") }}

),

final as (

    select
        parsed.comment_id || ':' || parsed.field_id as field_update_id,
        parsed.ticket_id,
        parsed.form_id,
        parsed.comment_id,
        parsed.comment_position,
        parsed.updated_at,
        parsed.author_id,
        parsed.field_id,
        parsed.field_name,
        parsed.field_type,
        parsed.field_code,
        parsed.has_value,
        parsed.value_text,
        parsed.choice_id,
        parsed.choice_name,
        parsed.catalog_item_id,
        parsed.catalog_item_name,
        parsed.person_id,
        coalesce(
            parsed.value_text,
            parsed.choice_name,
            parsed.catalog_item_name,
            parsed.person_name
        ) as value_display
    from parsed
    where parsed.field_id is not null

)

select * from final

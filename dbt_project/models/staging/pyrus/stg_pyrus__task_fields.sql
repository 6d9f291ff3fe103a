with

tasks as (

    select * from {{ source('pyrus', 'pyrus_tasks') }}

),

top_level_fields as (

    select
        tasks.task_id as ticket_id,
        coalesce(tasks.form_id, {{ jsonb_bigint("tasks.payload -> 'form_id'") }}) as form_id,
        field.value as field
    from tasks
    cross join jsonb_array_elements({{ jsonb_array_or_empty("tasks.payload -> 'fields'") }})
        as field (value)

),

-- Children of `title` fields (sections) carry the real values, e.g. the client's email.
title_children as (

    select
        top_level_fields.ticket_id,
        top_level_fields.form_id,
        child.value as field
    from top_level_fields
    cross join
        jsonb_array_elements(
            {{ jsonb_array_or_empty("top_level_fields.field -> 'value' -> 'fields'") }}
        ) as child (value)
    where top_level_fields.field ->> 'type' = 'title'

),

all_fields as (

    select * from top_level_fields
    union all
    select * from title_children

),

parsed as (

    select distinct on (all_fields.ticket_id, {{ jsonb_bigint("all_fields.field -> 'id'") }})
        all_fields.ticket_id,
        all_fields.form_id,
        {{ jsonb_bigint("all_fields.field -> 'id'") }} as field_id,
        all_fields.field ->> 'name' as field_name,
        all_fields.field ->> 'type' as field_type,
        nullif(all_fields.field ->> 'code', '') as field_code,
        all_fields.field ? 'value' and all_fields.field -> 'value' <> 'null'::jsonb as has_value,
        {{ pyrus_field_value_columns("all_fields.field") }},
        all_fields.field -> 'value' as value_json
    from all_fields
    order by all_fields.ticket_id, {{ jsonb_bigint("all_fields.field -> 'id'") }}

),

final as (

    select
        parsed.ticket_id || ':' || parsed.field_id as task_field_key,
        parsed.ticket_id,
        parsed.form_id,
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
        parsed.person_name,
        coalesce(
            parsed.value_text,
            parsed.choice_name,
            parsed.catalog_item_name,
            parsed.person_name
        ) as value_display,
        parsed.value_json
    from parsed
    where parsed.field_id is not null

)

select * from final

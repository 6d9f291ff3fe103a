with

tasks as (

    select * from {{ source('pyrus', 'pyrus_tasks') }}

),

task_fields as (

    select * from {{ ref('stg_pyrus__task_fields') }}

),

-- One value per role; when two fields share a role, the lowest field id wins.
field_values as (

    select
        ticket_id,
        (array_agg(value_text order by field_id) filter (
            where field_role = 'subject' and value_text is not null
        ))[1] as subject,
        (array_agg(value_text order by field_id) filter (
            where field_role = 'description' and value_text is not null
        ))[1] as description,
        (array_agg(value_display order by field_id) filter (
            where field_role = 'client_name' and value_display is not null
        ))[1] as client_name,
        (array_agg(value_display order by field_id) filter (
            where field_role = 'priority' and value_display is not null
        ))[1] as priority,
        (array_agg(value_text order by field_id) filter (
            where field_role = 'draft_reply' and value_text is not null
        ))[1] as draft_reply,
        (array_agg(value_display order by field_id) filter (
            where field_role = 'assistant_feedback' and value_display is not null
        ))[1] as assistant_feedback,
        (array_agg(choice_id order by field_id) filter (
            where field_role = 'category' and has_value
        ))[1] as category_choice_id,
        (array_agg(choice_name order by field_id) filter (
            where field_role = 'category' and has_value
        ))[1] as category_choice_name,
        (array_agg(category_code order by field_id) filter (
            where field_role = 'category' and has_value
        ))[1] as category_code,
        (array_agg(is_category_mapped order by field_id) filter (
            where field_role = 'category' and has_value
        ))[1] as is_category_mapped
    from task_fields
    group by ticket_id

),

renamed as (

    select
        tasks.task_id as ticket_id,
        coalesce(tasks.form_id, {{ jsonb_bigint("tasks.payload -> 'form_id'") }}) as form_id,
        {{ pyrus_timestamp("tasks.payload ->> 'create_date'") }} as created_at,
        {{ pyrus_timestamp("tasks.payload ->> 'close_date'") }} as closed_at,
        coalesce(
            {{ pyrus_timestamp("tasks.payload ->> 'last_modified_date'") }},
            tasks.last_modified_at
        ) as last_modified_at,
        {{ jsonb_bigint("tasks.payload -> 'current_step'") }} as current_step,
        {{ jsonb_bigint("tasks.payload -> 'author' -> 'id'") }} as author_id,
        {{ pyrus_person_name("tasks.payload -> 'author'") }} as author_name,
        nullif(lower(tasks.payload -> 'author' ->> 'email'), '') as author_email,
        {{ pyrus_person_type("tasks.payload -> 'author'") }} as author_type,
        {{ jsonb_bigint("tasks.payload -> 'responsible' -> 'id'") }} as responsible_id,
        {{ pyrus_person_name("tasks.payload -> 'responsible'") }} as responsible_name,
        {{ pyrus_person_type("tasks.payload -> 'responsible'") }} as responsible_type,
        coalesce(
            field_values.subject,
            nullif(tasks.payload ->> 'subject', ''),
            nullif(regexp_replace(tasks.payload ->> 'text', '^[^:]*:\s*', ''), '')
        ) as subject,
        field_values.description,
        field_values.category_choice_id,
        field_values.category_choice_name,
        field_values.category_code,
        field_values.is_category_mapped,
        field_values.priority,
        field_values.client_name,
        field_values.assistant_feedback,
        field_values.draft_reply,
        tasks.is_deleted,
        tasks._loaded_at as loaded_at
    from tasks
    left join field_values on tasks.task_id = field_values.ticket_id

),

final as (

    select
        *,
        closed_at is not null as is_closed
    from renamed

)

select * from final

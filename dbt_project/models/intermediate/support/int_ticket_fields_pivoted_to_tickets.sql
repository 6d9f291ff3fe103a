-- A view on purpose: see int_ticket_fields_pivoted_to_tickets.yml (`kb taxonomy check`).
{{ config(materialized='view') }}

with

tasks as (

    select * from {{ ref('stg_pyrus__tasks') }}

),

task_fields as (

    select * from {{ ref('int_ticket_fields_mapped') }}

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

final as (

    select
        tasks.ticket_id,
        tasks.form_id,
        tasks.created_at,
        tasks.closed_at,
        tasks.last_modified_at,
        tasks.current_step,
        tasks.author_id,
        tasks.author_name,
        tasks.author_email,
        tasks.author_type,
        tasks.responsible_id,
        tasks.responsible_name,
        tasks.responsible_type,
        coalesce(field_values.subject, tasks.task_subject) as subject,
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
        tasks.loaded_at,
        tasks.is_closed
    from tasks
    left join field_values on tasks.ticket_id = field_values.ticket_id

)

select * from final

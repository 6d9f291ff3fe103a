-- A view on purpose: see int_ticket_fields_mapped.yml (`kb taxonomy check` reads it live).
{{ config(materialized='view') }}

with

task_fields as (

    select * from {{ ref('stg_pyrus__task_fields') }}

),

form_fields as (

    select * from {{ ref('stg_pyrus__form_fields') }}

),

categories as (

    select * from {{ ref('categories') }}

),

-- The form definition names the role (by info.code or name); a field missing from the
-- landed form falls back to its own code or name.
with_roles as (

    select
        task_fields.*,
        coalesce(
            form_fields.field_role,
            {{ pyrus_field_role("task_fields.field_name", "task_fields.field_code") }}
        ) as field_role
    from task_fields
    left join form_fields
        on
            task_fields.form_id = form_fields.form_id
            and task_fields.field_id = form_fields.field_id

),

final as (

    select
        with_roles.task_field_key,
        with_roles.ticket_id,
        with_roles.form_id,
        with_roles.field_id,
        with_roles.field_name,
        with_roles.field_type,
        with_roles.field_code,
        with_roles.field_role,
        with_roles.has_value,
        with_roles.value_text,
        with_roles.choice_id,
        with_roles.choice_name,
        with_roles.catalog_item_id,
        with_roles.catalog_item_name,
        with_roles.person_id,
        with_roles.person_name,
        with_roles.value_display,
        case
            when with_roles.field_role = 'category'
                then {{ category_code_for_choice("with_roles.choice_id", "with_roles.choice_name", "categories") }}
        end as category_code,
        case
            when with_roles.field_role = 'category' and with_roles.has_value
                then {{ category_code_is_mapped("with_roles.choice_id", "categories") }}
        end as is_category_mapped,
        with_roles.value_json
    from with_roles
    left join categories
        on
            with_roles.field_role = 'category'
            and {{ category_join_condition("with_roles.choice_name", "categories") }}

)

select * from final

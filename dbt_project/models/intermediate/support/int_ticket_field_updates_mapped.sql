-- A view, like int_ticket_fields_mapped: the category history follows a seed edit at once.
{{ config(materialized='view') }}

with

field_updates as (

    select * from {{ ref('stg_pyrus__field_updates') }}

),

form_fields as (

    select * from {{ ref('stg_pyrus__form_fields') }}

),

categories as (

    select * from {{ ref('categories') }}

),

-- Same role rule as int_ticket_fields_mapped: the form definition first, then the field's
-- own code or name.
with_roles as (

    select
        field_updates.*,
        coalesce(
            form_fields.field_role,
            {{ pyrus_field_role("field_updates.field_name", "field_updates.field_code") }}
        ) as field_role
    from field_updates
    left join form_fields
        on
            field_updates.form_id = form_fields.form_id
            and field_updates.field_id = form_fields.field_id

),

final as (

    select
        with_roles.field_update_id,
        with_roles.ticket_id,
        with_roles.comment_id,
        with_roles.comment_position,
        with_roles.updated_at,
        with_roles.author_id,
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
        with_roles.value_display,
        case
            when with_roles.field_role = 'category'
                then {{ category_code_for_choice("with_roles.choice_id", "with_roles.choice_name", "categories") }}
        end as category_code
    from with_roles
    left join categories
        on
            with_roles.field_role = 'category'
            and {{ category_join_condition("with_roles.choice_name", "categories") }}

)

select * from final

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

-- Role and category code by the one rule in macros/categories.sql (shared with the fields).
mapped as (

    {{ pyrus_fields_mapped('field_updates', 'form_fields', 'categories') }}

),

final as (

    select
        mapped.field_update_id,
        mapped.ticket_id,
        mapped.form_id,
        mapped.comment_id,
        mapped.comment_position,
        mapped.updated_at,
        mapped.author_id,
        mapped.field_id,
        mapped.field_name,
        mapped.field_type,
        mapped.field_code,
        mapped.field_role,
        mapped.has_value,
        mapped.value_text,
        mapped.choice_id,
        mapped.choice_name,
        mapped.catalog_item_id,
        mapped.catalog_item_name,
        mapped.person_id,
        mapped.value_display,
        mapped.category_code,
        mapped.is_category_mapped
    from mapped

)

select * from final

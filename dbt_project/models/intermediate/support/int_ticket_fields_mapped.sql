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

-- Role and category code by the one rule in macros/categories.sql (shared with the history).
mapped as (

    {{ pyrus_fields_mapped('task_fields', 'form_fields', 'categories') }}

),

final as (

    select
        mapped.task_field_key,
        mapped.ticket_id,
        mapped.form_id,
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
        mapped.person_name,
        mapped.value_display,
        mapped.category_code,
        mapped.is_category_mapped,
        mapped.value_json
    from mapped

)

select * from final

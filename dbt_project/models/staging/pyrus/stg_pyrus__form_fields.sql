with

forms as (

    select * from {{ source('pyrus', 'pyrus_forms') }}

),

-- Every field definition at any depth: top-level fields, title children,
-- table columns and fields shown under a choice option.
nested_fields as (

    select
        forms.form_id,
        forms.payload ->> 'name' as form_name,
        field_definition.value as field
    from forms
    cross join jsonb_path_query(forms.payload, 'strict $.fields.**') as field_definition (value)
    where
        jsonb_typeof(field_definition.value) = 'object'
        and field_definition.value ? 'id'
        and field_definition.value ? 'type'
        and field_definition.value ? 'name'

),

renamed as (

    select distinct on (form_id, field_id)
        form_id,
        form_name,
        {{ jsonb_bigint("field -> 'id'") }} as field_id,
        field ->> 'name' as field_name,
        field ->> 'type' as field_type,
        nullif(field -> 'info' ->> 'code', '') as field_code,
        {{ pyrus_field_role("field ->> 'name'", "field -> 'info' ->> 'code'") }} as field_role
    from nested_fields
    order by form_id, field_id

),

final as (

    select
        form_id || ':' || field_id as form_field_key,
        form_id,
        form_name,
        field_id,
        field_name,
        field_type,
        field_code,
        field_role
    from renamed
    where field_id is not null

)

select * from final

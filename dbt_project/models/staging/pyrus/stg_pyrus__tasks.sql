with

tasks as (

    select * from {{ source('pyrus', 'pyrus_tasks') }}

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
            nullif(tasks.payload ->> 'subject', ''),
            nullif(regexp_replace(tasks.payload ->> 'text', '^[^:]*:\s*', ''), '')
        ) as task_subject,
        tasks.is_deleted,
        tasks._loaded_at as loaded_at
    from tasks

),

final as (

    select
        *,
        closed_at is not null as is_closed
    from renamed

)

select * from final

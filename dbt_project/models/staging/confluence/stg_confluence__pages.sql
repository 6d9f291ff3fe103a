with

pages as (

    select * from {{ source('confluence', 'confluence_pages') }}

),

ancestors as (

    select
        pages.page_id,
        string_agg(ancestor.value ->> 'title', ' / ' order by ancestor.ordinality) as breadcrumb
    from pages
    cross join
        jsonb_array_elements({{ jsonb_array_or_empty("pages.payload -> 'ancestors'") }})
        with ordinality as ancestor (value, ordinality)
    group by pages.page_id

),

labels as (

    select
        pages.page_id,
        array_agg(
            coalesce(label_item.value ->> 'name', label_item.value ->> 'label')
            order by label_item.ordinality
        ) as labels
    from pages
    cross join
        jsonb_array_elements(
            {{ jsonb_array_or_empty("pages.payload -> 'metadata' -> 'labels' -> 'results'") }}
        ) with ordinality as label_item (value, ordinality)
    group by pages.page_id

),

renamed as (

    select
        pages.page_id,
        coalesce(pages.payload -> 'space' ->> 'key', pages.space_key) as space_key,
        pages.payload -> 'space' ->> 'name' as space_name,
        coalesce(pages.payload ->> 'title', pages.title) as title,
        coalesce(
            {{ jsonb_bigint("pages.payload -> 'version' -> 'number'") }}, pages.version_number
        ) as version_number,
        coalesce(
            {{ pyrus_timestamp("pages.payload -> 'version' ->> 'when'") }},
            pages.last_modified_at
        ) as updated_at,
        {{ pyrus_timestamp("pages.payload -> 'history' ->> 'createdDate'") }} as created_at,
        pages.payload ->> 'status' as page_status,
        -- The item's own links are relative; the base sits on the search response,
        -- so take it from `_links.base` when the loader kept it, else from `self`.
        coalesce(
            nullif(pages.payload -> '_links' ->> 'base', ''),
            nullif('{{ var("confluence_base_url") }}', ''),
            substring(pages.payload -> '_links' ->> 'self' from '^(.*?)/rest/api/')
        ) as base_url,
        pages.payload -> '_links' ->> 'webui' as webui_path,
        pages.payload -> 'body' -> 'storage' ->> 'value' as body_storage,
        pages.is_deleted or coalesce(pages.payload ->> 'status', 'current') <> 'current'
            as is_deleted,
        pages.deleted_at,
        pages._loaded_at as loaded_at
    from pages

),

final as (

    select
        renamed.page_id,
        renamed.space_key,
        renamed.space_name,
        renamed.title,
        ancestors.breadcrumb,
        renamed.version_number,
        renamed.created_at,
        renamed.updated_at,
        case
            when renamed.webui_path is null then null
            when renamed.webui_path ~ '^https?://' then renamed.webui_path
            else rtrim(renamed.base_url, '/') || renamed.webui_path
        end as web_url,
        coalesce(labels.labels, '{}'::text[]) as labels,
        renamed.body_storage,
        renamed.page_status,
        renamed.is_deleted,
        renamed.deleted_at,
        renamed.loaded_at
    from renamed
    left join ancestors on renamed.page_id = ancestors.page_id
    left join labels on renamed.page_id = labels.page_id

)

select * from final

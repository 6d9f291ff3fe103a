{{ config(materialized='view') }}

-- What to write or fix first: each document the engineers used that the bot missed,
-- ranked by how many tickets it would have helped.
with

missed as (

    select * from {{ ref('int_used_documents_missed') }}

),

documents as (

    select * from {{ ref('kb_documents') }}

),

per_category as (

    select
        document_id,
        category_code,
        count(distinct ticket_id) as tickets
    from missed
    group by 1, 2

),

categories as (

    select
        document_id,
        array_agg(category_code order by tickets desc, category_code asc) as category_codes
    from per_category
    group by 1

),

per_document as (

    select
        document_id,
        count(distinct ticket_id) as tickets_missed,
        min(week_start_msk) as first_missed_week_msk,
        max(week_start_msk) as last_missed_week_msk
    from missed
    group by 1

),

final as (

    select
        per_document.document_id,
        documents.source as document_source,
        documents.title,
        documents.url,
        per_document.tickets_missed,
        categories.category_codes,
        per_document.first_missed_week_msk,
        per_document.last_missed_week_msk,
        rank() over (order by per_document.tickets_missed desc) as gap_rank
    from per_document
    inner join categories on per_document.document_id = categories.document_id
    left join documents on per_document.document_id = documents.document_id

)

select * from final

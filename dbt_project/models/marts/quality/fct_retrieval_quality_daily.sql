{#- A view, like kb_gaps: the `label` stage writes kb.answer_labels after the marts
    are built, so a table would always be a day behind. -#}
{{ config(materialized='view') }}

with

suggestions as (

    select * from {{ ref('stg_assistant__suggestions') }}

),

hits as (

    select * from {{ ref('stg_assistant__suggestion_hits') }}

),

labels as (

    select * from {{ ref('stg_kb__answer_labels') }}

),

used_documents as (

    select distinct
        ticket_id,
        document_id
    from labels

),

-- Per labelled ticket the bot decided on: how many used documents it retrieved at
-- ranks 1 and ≤ 5, and the rank of the first one it retrieved at all.
per_ticket as (

    select
        used_documents.ticket_id,
        count(*) as used_documents,
        count(*) filter (where hits.document_rank = 1) as found_at_1,
        count(*) filter (where hits.document_rank <= 5) as found_at_5,
        min(hits.document_rank) as first_found_rank
    from used_documents
    inner join suggestions on used_documents.ticket_id = suggestions.ticket_id
    left join hits
        on
            used_documents.ticket_id = hits.ticket_id
            and used_documents.document_id = hits.document_id
    group by used_documents.ticket_id

),

tickets as (

    select
        per_ticket.*,
        (suggestions.decided_at at time zone 'Europe/Moscow')::date as decided_date_msk,
        coalesce(suggestions.category_code, 'unknown') as category_code,
        suggestions.arm
    from per_ticket
    inner join suggestions on per_ticket.ticket_id = suggestions.ticket_id

),

final as (

    select
        decided_date_msk,
        category_code,
        arm,
        count(*) as labelled_tickets,
        sum(used_documents) as used_documents,
        count(*) filter (where first_found_rank is not null) as tickets_used_document_retrieved,
        round(avg(found_at_1::numeric / used_documents), 4) as recall_at_1,
        round(avg(found_at_5::numeric / used_documents), 4) as recall_at_5,
        round(avg(coalesce(1.0 / first_found_rank, 0))::numeric, 4) as mrr
    from tickets
    group by decided_date_msk, category_code, arm

)

select * from final

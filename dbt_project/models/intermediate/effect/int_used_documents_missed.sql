-- A view, like the marts that read it: labels written by the `label` stage after the
-- marts were built show at once (as in fct_retrieval_quality_daily).
{{ config(materialized='view') }}

-- Documents the engineers used (answer labels) that the bot did not have in its top 5,
-- with the ticket's week and category: the one definition of a "missed" document that
-- kb_gaps (per week and category) and kb_gap_documents (per document) both count.
with

pairs as (

    select * from {{ ref('int_suggestions_paired_with_replies') }}

),

labels as (

    select * from {{ ref('stg_kb__answer_labels') }}

),

hits as (

    select * from {{ ref('stg_assistant__suggestion_hits') }}

),

missed as (

    select distinct
        labels.ticket_id,
        labels.document_id
    from labels
    left join hits
        on
            labels.ticket_id = hits.ticket_id
            and labels.document_id = hits.document_id
            and hits.document_rank <= 5
    where hits.ticket_id is null

),

final as (

    select
        missed.ticket_id,
        missed.document_id,
        pairs.created_week_msk as week_start_msk,
        coalesce(pairs.category_at_creation, 'unknown') as category_code
    from missed
    inner join pairs on missed.ticket_id = pairs.ticket_id

)

select * from final

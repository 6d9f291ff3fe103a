-- Recall and MRR are shares: 0..1, recall@1 never above recall@5, and a cell cannot
-- have more tickets with a retrieved used document than labelled tickets.
with

quality as (

    select * from {{ ref('fct_retrieval_quality_daily') }}

),

final as (

    select
        decided_date_msk,
        category_code,
        arm,
        recall_at_1,
        recall_at_5,
        mrr
    from quality
    where
        recall_at_1 not between 0 and 1
        or recall_at_5 not between 0 and 1
        or mrr not between 0 and 1
        or recall_at_1 > recall_at_5
        or tickets_used_document_retrieved > labelled_tickets
        or used_documents < labelled_tickets

)

select * from final

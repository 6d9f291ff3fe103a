{#- The contract with the indexer (flows/index.py): one row per document. A document
    that leaves this table, or has is_deleted, must leave the vector index too. Personal
    data is masked; the organisation's own contacts (kb_public_contacts) are kept. -#}
-- depends_on: {{ ref('kb_public_contacts') }}
{%- set public = public_contacts_for_masking() %}
with

pages as (

    select * from {{ ref('stg_confluence__pages') }}

),

dialogues as (

    select * from {{ ref('int_ticket_dialogues') }}

),

categories as (

    select * from {{ ref('dim_categories') }}

),

-- A page labelled with a taxonomy code (e.g. `sso_ldap`) belongs to that category.
page_categories as (

    select
        pages.page_id,
        min(categories.category_code) as category_code
    from pages
    inner join categories on categories.category_code = any(pages.labels)
    group by pages.page_id

),

confluence_documents as (

    select
        'confluence:' || pages.page_id as document_id,
        'confluence' as source,
        pages.page_id as source_id,
        {{ mask_pii('pages.title', public) }} as title,
        pages.breadcrumb,
        pages.web_url as url,
        {{ mask_pii("coalesce(pages.body_storage, '')", public) }} as body,
        page_categories.category_code,
        pages.updated_at,
        pages.is_deleted
    from pages
    left join page_categories on pages.page_id = page_categories.page_id

),

ticket_documents as (

    select
        'pyrus:' || dialogues.ticket_id as document_id,
        'pyrus' as source,
        dialogues.ticket_id::text as source_id,
        {{ mask_pii('dialogues.subject', public) }} as title,
        null::text as breadcrumb,
        '{{ var("pyrus_task_url_prefix") }}' || dialogues.ticket_id as url,
        {{ mask_pii("concat_ws(
            E'\\n',
            'Вопрос: ' || coalesce(dialogues.subject, ''),
            nullif(dialogues.question_text, dialogues.subject),
            '',
            'Решение: ' || dialogues.answer_text
        )", public) }} as body,
        dialogues.category_code,
        coalesce(dialogues.last_modified_at, dialogues.closed_at) as updated_at,
        dialogues.is_deleted
    from dialogues

),

unioned as (

    select * from confluence_documents
    union all
    select * from ticket_documents

),

final as (

    select
        document_id,
        source,
        source_id,
        title,
        breadcrumb,
        url,
        body,
        category_code,
        updated_at,
        md5(coalesce(title, '') || E'\n' || body) as content_hash,
        is_deleted
    from unioned

)

select * from final

with

labels as (

    {{ source_or_empty('kb', 'answer_labels', [
        ['ticket_id', 'bigint'],
        ['document_id', 'text'],
        ['method', 'text'],
        ['strength', 'double precision'],
        ['ticket_closed_at', 'timestamptz'],
        ['labelled_at', 'timestamptz'],
    ]) }}

),

final as (

    select
        ticket_id,
        document_id,
        method as label_method,
        strength as label_strength,
        ticket_closed_at as closed_at,
        labelled_at
    from labels
    where ticket_id is not null and document_id is not null

)

select * from final

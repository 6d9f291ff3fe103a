{{ config(severity='warn') }}
-- A chosen "Категория" value that matches no taxonomy entry lands in 'other': warn, so
-- that a renamed choice is noticed (fix: rename the seed row or set the var
-- pyrus_category_choice_codes).
select
    ticket_id,
    category_choice_id,
    category_choice_name
from {{ ref('int_ticket_fields_pivoted_to_tickets') }}
where category_choice_name is not null and not is_category_mapped

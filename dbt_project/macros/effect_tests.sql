{#- Generic test: the combination of `columns` is unique (no dbt_utils offline). -#}
{% test effect_unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_per_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}

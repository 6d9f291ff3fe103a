{#- Taxonomy code for a value of the Pyrus "Категория" field. The explicit var
    pyrus_category_choice_codes ({choice_id: code}) wins; otherwise the choice name is
    matched to the seed's name_ru (or the code itself). A value that matches nothing
    becomes 'other' and is_category_mapped tells the two apart. Needs a left join of
    ref('categories') under `categories_alias`. -#}
{% macro category_code_for_choice(choice_id, choice_name, categories_alias) -%}
    {%- set explicit = var_mapping('pyrus_category_choice_codes') -%}
    case
        {%- for choice, code in explicit.items() %}
            when {{ choice_id }} = {{ choice | int }} then '{{ code }}'
        {%- endfor %}
        when {{ categories_alias }}.category_code is not null
            then {{ categories_alias }}.category_code
        when {{ choice_id }} is not null or {{ choice_name }} is not null then 'other'
    end
{%- endmacro %}

{% macro category_code_is_mapped(choice_id, categories_alias) -%}
    {%- set explicit = var_mapping('pyrus_category_choice_codes') -%}
    (
        {{ categories_alias }}.category_code is not null
        {%- if explicit %}
            or {{ choice_id }} in (
                {%- for choice in explicit.keys() %}{{ choice | int }}{{ ", " if not loop.last }}{% endfor -%}
            )
        {%- endif %}
    )
{%- endmacro %}

{% macro category_join_condition(choice_name, categories_alias) -%}
    lower(trim({{ choice_name }})) in (
        lower({{ categories_alias }}.name_ru),
        lower({{ categories_alias }}.category_code)
    )
{%- endmacro %}

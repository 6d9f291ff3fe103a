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

{#- The staged Pyrus fields under `fields_alias` (stg_pyrus__task_fields or
    stg_pyrus__field_updates: both carry form_id, field_id, field_name, field_code, has_value,
    choice_id, choice_name) with the field's role — from the form definition under
    `form_fields_alias`, else the field's own code or name — and, for the "Категория" field,
    the taxonomy code and whether it matched (seed under `categories_alias`). One rule for the
    current values and the history, so the two never map a choice differently. -#}
{% macro pyrus_fields_mapped(fields_alias, form_fields_alias, categories_alias) -%}
    select
        {{ fields_alias }}.*,
        roles.field_role,
        case
            when roles.field_role = 'category'
                then {{ category_code_for_choice(fields_alias ~ ".choice_id", fields_alias ~ ".choice_name", categories_alias) }}
        end as category_code,
        case
            when roles.field_role = 'category' and {{ fields_alias }}.has_value
                then {{ category_code_is_mapped(fields_alias ~ ".choice_id", categories_alias) }}
        end as is_category_mapped
    from {{ fields_alias }}
    left join {{ form_fields_alias }}
        on
            {{ fields_alias }}.form_id = {{ form_fields_alias }}.form_id
            and {{ fields_alias }}.field_id = {{ form_fields_alias }}.field_id
    cross join lateral (
        select
            coalesce(
                {{ form_fields_alias }}.field_role,
                {{ pyrus_field_role(fields_alias ~ ".field_name", fields_alias ~ ".field_code") }}
            ) as field_role
    ) as roles
    left join {{ categories_alias }}
        on
            roles.field_role = 'category'
            and {{ category_join_condition(fields_alias ~ ".choice_name", categories_alias) }}
{%- endmacro %}

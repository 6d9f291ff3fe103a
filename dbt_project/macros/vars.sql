{#- Typed access to project vars: a mapping / list, or an empty one when the var holds
    something else (this also keeps sqlfluff's placeholder vars out of loops). -#}
{% macro var_mapping(name) -%}
    {%- set value = var(name, {}) -%}
    {{ return(value if value is mapping else {}) }}
{%- endmacro %}

{% macro var_list(name) -%}
    {%- set value = var(name, []) -%}
    {{ return(value if (value is iterable and value is not string and value is not mapping) else []) }}
{%- endmacro %}

{#- Use custom schema names as they are (staging, intermediate, marts), not prefixed with
    the target schema: the Python side reads `marts.kb_documents` by that exact name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

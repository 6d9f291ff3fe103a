{#- Select `columns` ([name, type] pairs) from a source that another component creates
    later (kb.ticket_categories, assistant.suggestions). While the table is missing, or
    lacks a column, the result is typed nulls: the project builds on a fresh database,
    and lineage still shows the source because `source()` is always called. -#}
{% macro source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set existing = none -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set existing = adapter.get_relation(
            database=relation.database,
            schema=relation.schema,
            identifier=relation.identifier
        ) -%}
        {%- if existing is not none -%}
            {%- for column in adapter.get_columns_in_relation(existing) -%}
                {%- do present.append(column.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    select
        {%- for name, type in columns %}
            {%- if name in present %}
        {{ name }}::{{ type }} as {{ name }}{{ "," if not loop.last }}
            {%- else %}
        null::{{ type }} as {{ name }}{{ "," if not loop.last }}
            {%- endif %}
        {%- endfor %}
    {%- if existing is not none %}
    from {{ relation }}
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}

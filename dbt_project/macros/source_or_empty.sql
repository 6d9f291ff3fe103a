{#- Select `columns` ([name, type] pairs) from a source that another component creates
    later (kb.ticket_categories, assistant.suggestions). While the table is missing, or
    lacks a column, the result is typed nulls: the project builds on a fresh database,
    and lineage still shows the source because `source()` is always called.

    The columns are read from pg_catalog, not through dbt's relation cache: with two
    threads, two models of one source schema compile at once, and dbt marks a schema as
    cached when the first of its relations is added — the other thread could then see a
    half-filled list, miss the relation and compile to nulls (a rare, silent wrong mart). -#}
{% macro source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set lookup -%}
            select lower(attribute.attname)
            from pg_catalog.pg_attribute as attribute
            inner join pg_catalog.pg_class as class on attribute.attrelid = class.oid
            inner join pg_catalog.pg_namespace as namespace
                on class.relnamespace = namespace.oid
            where namespace.nspname = '{{ relation.schema | replace("'", "''") }}'
                and class.relname = '{{ relation.identifier | replace("'", "''") }}'
                and attribute.attnum > 0
                and not attribute.attisdropped
        {%- endset -%}
        {%- for row in run_query(lookup) -%}
            {%- do present.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    select
        {%- for name, type in columns %}
            {%- if name in present %}
        {{ name }}::{{ type }} as {{ name }}{{ "," if not loop.last }}
            {%- else %}
        null::{{ type }} as {{ name }}{{ "," if not loop.last }}
            {%- endif %}
        {%- endfor %}
    {%- if present %}
    from {{ relation }}
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}

{#- Helpers that read Pyrus API JSON (shapes: docs/pyrus-api.md §2–§4). -#}

{#- A jsonb array, or an empty one when the key is missing or holds another type. -#}
{% macro jsonb_array_or_empty(expression) -%}
    case
        when jsonb_typeof({{ expression }}) = 'array' then {{ expression }}
        else '[]'::jsonb
    end
{%- endmacro %}

{#- "First Last" of a Person object; roles carry their name in last_name only. -#}
{% macro pyrus_person_name(person) -%}
    nullif(
        trim(
            concat_ws(
                ' ',
                nullif({{ person }} ->> 'first_name', ''),
                nullif({{ person }} ->> 'last_name', '')
            )
        ),
        ''
    )
{%- endmacro %}

{#- user | bot | role. Bots are `type: bot` (their login is bot@<guid>). -#}
{% macro pyrus_person_type(person) -%}
    case
        when {{ person }} is null or jsonb_typeof({{ person }}) <> 'object' then null
        when {{ person }} ->> 'type' in ('user', 'bot', 'role') then {{ person }} ->> 'type'
        when {{ person }} ->> 'email' like 'bot@%' then 'bot'
        when
            coalesce({{ person }} ->> 'first_name', '') = ''
            and coalesce({{ person }} ->> 'email', '') = ''
            and coalesce({{ person }} ->> 'last_name', '') <> ''
            then 'role'
        else 'user'
    end
{%- endmacro %}

{#- A numeric JSON scalar as bigint, null for anything else (never a cast error). -#}
{% macro jsonb_bigint(expression) -%}
    case
        when jsonb_typeof({{ expression }}) = 'number'
            then ({{ expression }} #>> '{}')::numeric::bigint
        when ({{ expression }} #>> '{}') ~ '^[0-9]{1,18}$'
            then ({{ expression }} #>> '{}')::bigint
    end
{%- endmacro %}

{#- A timestamp string as timestamptz in UTC; Pyrus sends `YYYY-MM-DDThh:mm:ssZ`. -#}
{% macro pyrus_timestamp(expression) -%}
    case
        when {{ expression }} ~ '^\d{4}-\d{2}-\d{2}'
            then ({{ expression }})::timestamptz
    end
{%- endmacro %}

{#- The semantic role of a form field (subject, category, ...) from its code or name,
    configured by the vars pyrus_field_codes / pyrus_field_names. -#}
{% macro pyrus_field_role(name_expression, code_expression) -%}
    {%- set codes = var_mapping('pyrus_field_codes') -%}
    {%- set names = var_mapping('pyrus_field_names') -%}
    case
        when {{ code_expression }} is null and {{ name_expression }} is null then null
        {%- for role, role_codes in codes.items() if role_codes %}
            when {{ code_expression }} in (
                {%- for code in role_codes %}'{{ code }}'{{ ", " if not loop.last }}{% endfor -%}
            ) then '{{ role }}'
        {%- endfor %}
        {%- for role, role_names in names.items() if role_names %}
            when lower(trim({{ name_expression }})) in (
                {%- for name in role_names %}'{{ name | lower }}'{{ ", " if not loop.last }}{% endfor -%}
            ) then '{{ role }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- Typed columns out of one field value `{id, type, name, value}` (docs/pyrus-api.md §4 table).
    Unexpected shapes give nulls, never errors. -#}
{% macro pyrus_field_value_columns(field) -%}
    case
        when jsonb_typeof({{ field }} -> 'value') in ('string', 'number', 'boolean')
            then {{ field }} ->> 'value'
    end as value_text,
    coalesce(
        {{ jsonb_bigint(field ~ " -> 'value' -> 'choice_ids' -> 0") }},
        {{ jsonb_bigint(field ~ " -> 'value' -> 'choice_id'") }}
    ) as choice_id,
    {{ field }} -> 'value' -> 'choice_names' ->> 0 as choice_name,
    coalesce(
        {{ jsonb_bigint(field ~ " -> 'value' -> 'item_ids' -> 0") }},
        {{ jsonb_bigint(field ~ " -> 'value' -> 'item_id'") }}
    ) as catalog_item_id,
    coalesce(
        {{ field }} -> 'value' -> 'item_names' ->> 0,
        {{ field }} -> 'value' -> 'rows' -> 0 ->> 0,
        {{ field }} -> 'value' -> 'values' ->> 0
    ) as catalog_item_name,
    case
        when {{ field }} ->> 'type' in ('person', 'author')
            then {{ jsonb_bigint(field ~ " -> 'value' -> 'id'") }}
    end as person_id,
    case
        when {{ field }} ->> 'type' in ('person', 'author')
            then {{ pyrus_person_name(field ~ " -> 'value'") }}
    end as person_name
{%- endmacro %}

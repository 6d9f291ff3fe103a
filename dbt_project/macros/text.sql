{#- HTML (Pyrus formatted_text) reduced to plain text: block tags become line breaks,
    other tags go, the common entities are decoded and blank runs collapse. -#}
{% macro html_to_text(expression) -%}
    nullif(
        trim(
            regexp_replace(
                regexp_replace(
                    replace(replace(replace(replace(replace(replace(
                        regexp_replace(
                            regexp_replace(
                                {{ expression }},
                                '<\s*(br|/p|/div|/li|/h[1-6]|/tr)\s*/?\s*>',
                                E'\n',
                                'gi'
                            ),
                            '<[^>]*>',
                            '',
                            'g'
                        ),
                        '&nbsp;', ' '), '&lt;', '<'), '&gt;', '>'), '&quot;', '"'),
                        '&#39;', ''''), '&amp;', '&'),
                    '[ \t]+',
                    ' ',
                    'g'
                ),
                '\s*\n\s*',
                E'\n',
                'g'
            )
        ),
        ''
    )
{%- endmacro %}

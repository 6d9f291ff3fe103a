{#- Mask personal data in free text before it reaches the knowledge base: secrets
    (API keys, bearer tokens, JWTs, "password: ..."), e-mail addresses, bank card
    numbers, Russian phone numbers and contract numbers. The placeholders are the ones
    assistant/redact.py uses ([token], [email], [card], [phone], [contract]). Order
    matters: secrets and cards first, so that their digits are not half-eaten by the
    phone rule. -#}
{% macro mask_pii(column) -%}
    {%- set rules = [
        ["(?:[Bb]earer\\s+|(?:[Tt]oken|[Тт]окен)\\s*[:=]?\\s*)[A-Za-z0-9._~+/=-]{16,}", "[token]", "g"],
        ["eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*", "[token]", "g"],
        ["(?<![A-Za-z0-9])(?:sk|pk|rk|ghp|glpat|xox[bpa])[-_][A-Za-z0-9_-]{16,}", "[token]", "g"],
        ["((?:[Aa][Pp][Ii][ _-]?(?:[Kk]ey|[Кк]люч)|[Ss]ecret|[Pp]assword|[Пп]ароль|[Кк]люч(?:\\s+[Aa][Pp][Ii])?|security_key|access_token)\\s*[:=]\\s*)[^\\s,;<\"']+", "\\1[token]", "g"],
        ["(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,}(?![A-Za-z0-9])", "[token]", "g"],
        ["[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", "[email]", "g"],
        ["(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{4,7}(?![0-9])", "[card]", "g"],
        ["(?<![0-9+])(?:\\+7|8|7)[\\s(-]{0,2}[0-9]{3}[\\s)-]{0,2}[0-9]{3}[\\s-]?[0-9]{2}[\\s-]?[0-9]{2}(?![0-9])", "[phone]", "g"],
        ["([Дд]оговор[а-яё]*\\s*(?:[Nn]|№|#|[Nn][Oo]\\.?)?\\s*)[A-Za-zА-Яа-я0-9/-]*[0-9][A-Za-zА-Яа-я0-9/-]*", "\\1[contract]", "g"],
    ] -%}
    {%- set ns = namespace(sql=column) -%}
    {%- for pattern, replacement, flags in rules -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '" ~ (pattern | replace("'", "''")) ~ "', '" ~ replacement ~ "', '" ~ flags ~ "')" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}

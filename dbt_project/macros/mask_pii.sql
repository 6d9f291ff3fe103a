{#- Mask personal data in free text before it reaches the knowledge base: secrets
    (API keys, bearer tokens, JWTs, "password: ..."), e-mail addresses, bank card
    numbers, Russian identity documents (passport, SNILS, INN, OMS policy, driver
    licence), Russian phone numbers and contract numbers. The placeholders are the ones
    assistant/redact.py uses ([token], [email], [passport], [snils], [inn], [oms],
    [driver_licence], [card], [phone], [contract]). Order matters: secrets first, then
    the identity documents and cards, so that their digits are not half-eaten by the
    phone rule. Postgres regexes: `\m`/`\y` are not used, because in a C-locale
    database Cyrillic letters are not word characters; letter cases are spelled out
    ([Пп]) for the same reason. -#}
{% macro mask_pii(column) -%}
    {%- set rules = [
        ["(?:[Bb]earer\\s+|(?:[Tt]oken|[Тт]окен)\\s*[:=]?\\s*)[A-Za-z0-9._~+/=-]{16,}", "[token]", "g"],
        ["eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*", "[token]", "g"],
        ["(?<![A-Za-z0-9])(?:sk|pk|rk|ghp|glpat|xox[bpa])[-_][A-Za-z0-9_-]{16,}", "[token]", "g"],
        ["((?:[Aa][Pp][Ii][ _-]?(?:[Kk]ey|[Кк]люч)|[Ss]ecret|[Pp]assword|[Пп]ароль|[Кк]люч(?:\\s+[Aa][Pp][Ii])?|security_key|access_token)\\s*[:=]\\s*)[^\\s,;<\"']+", "\\1[token]", "g"],
        ["(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,}(?![A-Za-z0-9])", "[token]", "g"],
        ["(?:[Вв]одительск[а-яё]*\\s+(?:удостоверени|прав)[а-яё]*|[Вв]/[Уу])\\s*[:.]?\\s*(?:[Сс]ерия\\s*)?[0-9]{2}\\s?(?:[0-9]{2}|[А-ЯЁA-Z]{2})\\s*(?:№|[Нн]омер)?\\s*[:.]?\\s*[0-9]{6}(?![0-9])", "[driver_licence]", "g"],
        ["[Пп]олис[а-яё]*(?:\\s+(?:ОМС|омс))?\\s*[:№]?\\s*(?:[Сс]ерия\\s*)?(?:[А-ЯЁA-Z]{2,4}\\s*)?[0-9][0-9 №-]{4,22}[0-9]", "[oms]", "g"],
        ["(?:СНИЛС|[Сс]нилс)[а-яё]*\\s*[:№]?\\s*[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{2}", "[snils]", "g"],
        ["(?<![0-9-])[0-9]{3}-[0-9]{3}-[0-9]{3}[ -][0-9]{2}(?![0-9-])", "[snils]", "g"],
        ["(?:ИНН|[Ии]нн)(?:/КПП|/кпп)?\\s*[:№]?\\s*[0-9]{10}(?:[0-9]{2})?(?:\\s*/\\s*[0-9]{9})?", "[inn]", "g"],
        ["(?<![0-9])[0-9]{12}(?![0-9])", "[inn]", "g"],
        ["(?:[Пп]аспорт[а-яё]*(?:\\s+(?:РФ|рф))?|[Сс]ерия)\\s*[:.]?\\s*(?:[Сс]ерия\\s*)?[:.]?\\s*[0-9]{2}\\s?[0-9]{2}\\s*[,;]?\\s*(?:№|[Nn]|[Нн]омер|[Нн]ом\\.)?\\s*[:.]?\\s*[0-9]{6}(?![0-9])", "[passport]", "g"],
        ["(?<![0-9-])[0-9]{2}\\s?[0-9]{2}\\s+№?\\s*[0-9]{6}(?![0-9-])", "[passport]", "g"],
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

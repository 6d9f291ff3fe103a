{#- Mask personal data in free text before it reaches the knowledge base: secrets
    (API keys, bearer tokens, JWTs, passwords, PINs, CVC and SMS codes), e-mail
    addresses, bank card and account numbers, Russian identity documents (passport,
    SNILS, INN, OMS policy, driver licence), dates of birth, street addresses, Russian
    phone numbers and contract numbers. The placeholders and the rules are those of
    assistant/masking/rules.py; both are tested against tests/mask_cases.yaml (the
    differences on purpose are listed there). Order matters: secrets first, then the
    keyworded forms, identity documents and cards, so that their digits are not
    half-eaten by the phone rule. Postgres regexes: `\m`/`\y` are not used, because in
    a C-locale database Cyrillic letters are not word characters (a lookbehind on
    letters stands in); letter cases are spelled out ([Пп]) for the same reason.

    `public`: the organisation's own contacts, rows (kind, value, display) as
    marts.kb_public_contacts holds them (see public_contacts_for_masking). Each is set
    aside before the rules run and put back after: an e-mail or phone by a sentinel
    restored to its display form, an e-mail at a public domain by hiding its «@». -#}
{% macro mask_pii(column, public=none) -%}
    {%- set wb = "(?<![А-Яа-яЁёA-Za-z0-9_])" -%}
    {%- set rules = [
        ["(?:[Bb]earer\\s+|(?:[Tt]oken|[Тт]окен)\\s*[:=]?\\s*)[A-Za-z0-9._~+/=-]{16,}", "[token]"],
        ["eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*", "[token]"],
        ["(?<![A-Za-z0-9])(?:sk|pk|rk|ghp|glpat|xox[bpa])[-_][A-Za-z0-9_-]{16,}", "[token]"],
        ["((?:[Aa][Pp][Ii][ _-]?(?:[Kk]ey|[Кк]люч)|[Ss]ecret|[Кк]люч(?:\\s+[Aa][Pp][Ii])?|security_key|access_token)\\s*[:=]\\s*)[^\\s,;<\"']+", "\\1[token]"],
        ["(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,}(?![A-Za-z0-9])", "[token]"],
        ["(" ~ wb ~ "(?:[Пп]ароль|ПАРОЛЬ|[Pp]assword|PASSWORD|[Pp]asswd|[Pp]wd|[Pp]ass)(?![А-Яа-яЁёA-Za-z])(?:\\s+(?:от|для)\\s+[А-Яа-яЁёA-Za-z0-9_.@-]+)?\\s*[:=]\\s*)[^\\s,;<\"']+", "\\1[password]"],
        ["(" ~ wb ~ "(?:[Пп]ароль|ПАРОЛЬ|[Pp]assword)\\s+(?:это\\s+|был\\s+|такой\\s+)?)(?=[^\\s,;<\"']*[0-9])[^\\s,;<\"']{4,}", "\\1[password]"],
        ["(" ~ wb ~ "(?:(?:[Пп]ин|ПИН)(?:-?(?:[Кк]од|КОД)[а-яё]*)?|[Pp][Ii][Nn](?:[ -]?[Cc]ode)?|CVC2?|[Cc]vc2?|CVV2?|[Cc]vv2?|CVN|[Кк]од[а-яё]*\\s+(?:из|в|по)\\s+(?:смс|СМС|sms|SMS|сообщени[а-яё]*)|(?:[Сс]мс|СМС|[Ss]ms|SMS)[ -]?код[а-яё]*|[Кк]од[а-яё]*\\s+подтверждени[а-яё]*|[Оо]дноразов[а-яё]*\\s+(?:код|пароль)[а-яё]*)(?![А-Яа-яЁёA-Za-z])(?:\\s*[:=—-])?\\s*(?:был[аио]?\\s+|это\\s+)?)[0-9]{3,8}(?![0-9])", "\\1[code]"],
        ["((?:[Дд]ат[а-яё]*\\s+рождения|" ~ wb ~ "[Дд]\\.\\s?[Рр]\\.|[Рр]одил(?:ся|ась)|[Dd]ate\\s+of\\s+[Bb]irth|" ~ wb ~ "(?:DOB|[Dd]ob)(?![A-Za-z]))\\s*[:—-]?\\s*)(?:[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}|[0-9]{1,2}\\s+[а-яё]+\\s+[0-9]{4}(?:\\s*г(?:ода|\\.)?)?|[0-9]{4}(?:\\s*г(?:ода|\\.)?)?)", "\\1[birth_date]"],
        ["(?<![0-9])(?:[0-9]{1,2}[./][0-9]{1,2}[./])?[0-9]{4}\\s*[гГ]\\.\\s?[рР]\\.?", "[birth_date]"],
        ["(?:(?<![0-9])[0-9]{6},?\\s*)?(?:(?:" ~ wb ~ "г\\.|" ~ wb ~ "[Гг]ород)\\s*[А-ЯЁ][а-яё-]+,?\\s*)?" ~ wb ~ "(?:[Уу]л\\.|[Уу]лица|[Пп]р-т|[Пп]росп\\.|[Пп]роспект|[Пп]ер\\.|[Пп]ереулок|ш\\.|[Шш]оссе|б-р|[Бб]ульвар|[Нн]аб\\.|[Нн]абережная|[Пп]л\\.|[Пп]лощадь|[Мм]кр\\.?|[Мм]икрорайон)\\s*[А-Яа-яЁёA-Za-z0-9][А-Яа-яЁёA-Za-z0-9_ .-]{0,40}?,?\\s*(?:" ~ wb ~ "д\\.|" ~ wb ~ "[Дд]ом)\\s*[0-9]+[а-я]?(?:\\s*[,/]?\\s*(?:корп\\.|[Кк]орпус|" ~ wb ~ "к\\.|стр\\.|[Сс]троение)\\s*[0-9]+)?(?:\\s*,?\\s*(?:кв\\.|[Кк]вартира|оф\\.|[Оо]фис)\\s*[0-9]+)?", "[address]"],
        ["(?:[Вв]одительск[а-яё]*\\s+(?:удостоверени|прав)[а-яё]*|[Вв]/[Уу])\\s*[:.]?\\s*(?:[Сс]ерия\\s*)?[0-9]{2}\\s?(?:[0-9]{2}|[А-ЯЁA-Z]{2})\\s*(?:№|[Нн]омер)?\\s*[:.]?\\s*[0-9]{6}(?![0-9])", "[driver_licence]"],
        ["[Пп]олис[а-яё]*(?:\\s+(?:ОМС|омс))?\\s*[:№]?\\s*(?:[Сс]ерия\\s*)?(?:[А-ЯЁA-Z]{2,4}\\s*)?[0-9][0-9 №-]{4,22}[0-9]", "[oms]"],
        ["((?:" ~ wb ~ "[РрКк]/[Сс][Чч]?|" ~ wb ~ "[Лл]/[Сс]|[Рр]асч[её]тн[а-яё]*\\s+сч[её]т[а-яё]*|[Кк]орр?(?:\\.|еспондентск[а-яё]*)\\s*сч[её]т[а-яё]*|[Лл]ицев[а-яё]*\\s+сч[её]т[а-яё]*|" ~ wb ~ "[Сс]ч[её]т[а-яё]*)\\s*[:№]?\\s*)(?:[0-9] ?){19}[0-9](?![0-9])", "\\1[account]"],
        ["(?<![0-9-])[0-9]{20}(?![0-9-])", "[account]"],
        ["(?:СНИЛС|[Сс]нилс)[а-яё]*\\s*[:№]?\\s*[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{2}", "[snils]"],
        ["(?<![0-9-])[0-9]{3}-[0-9]{3}-[0-9]{3}[ -][0-9]{2}(?![0-9-])", "[snils]"],
        ["(?:ИНН|[Ии]нн)(?:/КПП|/кпп)?\\s*[:№]?\\s*[0-9]{10}(?:[0-9]{2})?(?:\\s*/\\s*[0-9]{9})?", "[inn]"],
        ["(?<![0-9])[0-9]{12}(?![0-9])", "[inn]"],
        ["(?:[Пп]аспорт[а-яё]*(?:\\s+(?:РФ|рф|данные|гражданина\\s+(?:РФ|рф)))?|" ~ wb ~ "[Сс]ери[яиюей])\\s*[:.]?\\s*(?:[Сс]ери[яиюей]\\s*)?[:.]?\\s*[0-9]{2}\\s?[0-9]{2}\\s*[,;]?\\s*(?:№|[Nn]|[Нн]омер[а-яё]*|[Нн]ом\\.)?\\s*[:.]?\\s*[0-9]{6}(?![0-9])", "[passport]"],
        ["(?<![0-9-])[0-9]{2}\\s?[0-9]{2}\\s+№?\\s*[0-9]{6}(?![0-9-])", "[passport]"],
        ["[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", "[email]"],
        ["(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{4,7}(?![0-9])", "[card]"],
        ["(?<![0-9+])(?:\\+7|8|7)[\\s(-]{0,2}[0-9]{3}[\\s)-]{0,2}[0-9]{3}[\\s-]?[0-9]{2}[\\s-]?[0-9]{2}(?![0-9])", "[phone]"],
        ["(?<![0-9+-])[0-9]{11}(?![0-9-])", "[snils]"],
        ["([Дд]оговор[а-яё]*\\s*(?:[Nn]|№|#|[Nn][Oo]\\.?)?\\s*)[A-Za-zА-Яа-я0-9/-]*[0-9][A-Za-zА-Яа-я0-9/-]*", "\\1[contract]"],
    ] -%}
    {%- set shelf = public_contact_shelf(public or []) -%}
    {%- set ns = namespace(sql=column) -%}
    {%- for item in shelf -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '" ~ (item[0] | replace("'", "''")) ~ "', '" ~ item[1] ~ "', 'gi')" -%}
    {%- endfor -%}
    {%- for pattern, replacement in rules -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '" ~ (pattern | replace("'", "''")) ~ "', '" ~ replacement ~ "', 'g')" -%}
    {%- endfor -%}
    {%- for item in shelf -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", '" ~ item[1] ~ "', '" ~ (item[2] | replace("'", "''")) ~ "')" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}

{#- (pattern, sentinel, restored text) for each public contact. Sentinels hold no digit
    and no «@», so no rule touches them; a domain's sentinel stands for the «@» only, so
    the address keeps its own mailbox name. -#}
{% macro public_contact_shelf(public) -%}
    {%- set special = "\\.^$*+?()[]{}|-/" -%}
    {%- set shelf = [] -%}
    {%- for kind, value, display in public -%}
        {%- set ns = namespace(escaped="") -%}
        {%- for ch in (value | string) -%}
            {%- set ns.escaped = ns.escaped ~ (("\\" ~ ch) if ch in special else ch) -%}
        {%- endfor -%}
        {%- set sentinel = "⟦pc" ~ ("abcdefghijklmnopqrstuvwxyz"[loop.index0 // 26]) ~ ("abcdefghijklmnopqrstuvwxyz"[loop.index0 % 26]) ~ "⟧" -%}
        {%- if kind == "email" -%}
            {%- do shelf.append(["(?<![A-Za-z0-9._%+-])" ~ ns.escaped ~ "(?![A-Za-z0-9-]|\\.[A-Za-z0-9])", sentinel, display]) -%}
        {%- elif kind == "domain" -%}
            {%- do shelf.append(["(?<=[A-Za-z0-9._%+-])@(?=(?:[A-Za-z0-9-]+\\.)*" ~ ns.escaped ~ "(?![A-Za-z0-9-]|\\.[A-Za-z0-9]))", sentinel, "@"]) -%}
        {%- elif kind == "phone" -%}
            {%- set sep = "[\\s()-]{0,2}" -%}
            {%- do shelf.append(["(?<![0-9+])(?:\\+7|8|7)?" ~ sep ~ (value | list | join(sep)) ~ "(?![0-9])", sentinel, display]) -%}
        {%- else -%}
            {%- do shelf.append([ns.escaped, sentinel, display]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(shelf) }}
{%- endmacro %}

{#- The organisation's public contacts as rows for mask_pii, read from the built
    kb_public_contacts table at run time (none while parsing, or before its first build). -#}
{% macro public_contacts_for_masking() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=ref('kb_public_contacts').schema, identifier=ref('kb_public_contacts').identifier) -%}
    {%- if relation is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query("select contact_kind, contact_value, display_value from " ~ relation ~ " order by contact_kind, contact_value") -%}
    {{ return(result.rows | map('list') | list) }}
{%- endmacro %}

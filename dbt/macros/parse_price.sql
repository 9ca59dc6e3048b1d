{#
    Glamira price strings -> numbers, by rule, never by guess: the SQL twin of
    `tasks/glamira/prices.py` (read its docstring for the shapes). The two must agree on
    every string; the singular tests `assert_parse_price_matches_cases` (a seed of every
    format) and `assert_parse_price_matches_python` (every price of the raw events, against
    the amount the pipeline parsed in Python) hold them to it.

    parse_price(price)         the amount as a double; null when missing or unsupported
    price_text_cleaned(price)  digits and separators only (Python's `cleaned`)
    price_is_blank(price)      null, empty or only whitespace: missing, not unsupported
    price_upper_bound()        the largest supported price, 10^12 (Python's `MAX_PRICE`):
                               above it, or not finite, a price is unsupported

    Dispatched through the dialect pieces of cross_database.sql (regexp_replace_all,
    regexp_contains, sql_string, type_double), which have DuckDB and BigQuery
    implementations; the rules themselves are written once, here. Both engines use RE2,
    where `\d` and `\s` are ASCII only while Python's (Rust) regex reads them as Unicode
    classes: the patterns below spell out `\p{Nd}` and the White_Space property instead.
#}

{#
    The largest supported price: prices.py `MAX_PRICE`, whose docstring says why 10^12
    (jewellery in the weakest store currency, VND or IDR, stays far below it; a double
    keeps every cent below it). A string of hundreds of digits casts to infinity: it is
    above the bound too, and so is NaN (DuckDB orders NaN above every number, BigQuery
    answers false to any comparison with it).
#}
{% macro price_upper_bound() -%}
    {{- return('1e12') -}}
{%- endmacro %}

{# Currency symbols and ISO codes a store writes beside a price (prices.py `_CURRENCY`). #}
{% macro _price_currency_pattern() -%}
    {{- return('US\\$|AU\\$|A\\$|C\\$|NZ\\$|HK\\$|S\\$|R\\$|Fr\\.|[A-Z]{3}|[€£$¥₹₫₩₽₺₪円]|zł|kr|Kč|Ft|lei|Rp|د\\.إ|ر\\.س|руб') -}}
{%- endmacro %}

{# Unicode White_Space (what `\s` and `strip_chars()` mean in Polars). #}
{% macro _price_whitespace_class() -%}
    {{- return('\\t\\n\\x{0B}\\f\\r \\x{85}\\p{Z}') -}}
{%- endmacro %}

{% macro price_is_blank(price) -%}
    ({{ price }} is null or {{ pipelines.regexp_contains(price, '^[' ~ pipelines._price_whitespace_class() ~ ']*$') }})
{%- endmacro %}

{% macro price_text_cleaned(price) -%}
    {%- set without_currency = pipelines.regexp_replace_all(price, pipelines._price_currency_pattern(), ' ') -%}
    {#- Arabic-Indic and extended Arabic-Indic digits, Arabic decimal and thousands
        separators, the typographic apostrophe and the no-break spaces -#}
    {%- set mapped = pipelines.translate_characters(
        without_currency,
        '٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬’\u00a0\u202f',
        "01234567890123456789.,'  "
    ) -%}
    {%- set digits_and_separators = pipelines.regexp_replace_all(mapped, "[^0-9.,' ]", '') -%}
    {{ pipelines.regexp_replace_all('trim(' ~ digits_and_separators ~ ')', ' +', ' ') }}
{%- endmacro %}

{% macro parse_price(price) -%}
    {{ return(adapter.dispatch('parse_price', 'pipelines')(price)) }}
{%- endmacro %}

{% macro default__parse_price(price) -%}
    {%- set text = pipelines.price_text_cleaned(price) -%}
    {%- set whitespace = pipelines._price_whitespace_class() -%}
    {#- (pattern, thousands separator, decimal separator), the first match wins -#}
    {%- set shapes = [
        ("^[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]+)?$", ",", "."),
        ("^[0-9]{1,3}(\\.[0-9]{3})+(,[0-9]+)?$", ".", ","),
        ("^[0-9]{1,3}('[0-9]{3})+(\\.[0-9]+)?$", "'", "."),
        ("^[0-9]{1,3}( [0-9]{3})+(,[0-9]{1,2})?$", " ", ","),
        ("^[0-9]+,[0-9]{1,2}$", "", ","),
        ("^[0-9]+\\.[0-9]+$", "", "."),
        ("^[0-9]+$", "", "."),
    ] -%}
    case
        when {{ price }} is null then null
        {# a word other than a currency ("ab 99": "from 99"), or anything but a separator
           between two digits: the string would be read as another number #}
        when {{ pipelines.regexp_contains(pipelines.regexp_replace_all(price, pipelines._price_currency_pattern(), ''), '\\p{L}') }}
            then null
        when {{ pipelines.regexp_contains(price, '\\p{Nd}[^\\p{Nd}' ~ whitespace ~ ".,'٫٬’]+\\p{Nd}") }}
            then null
        when {{ pipelines.regexp_contains(price, '[-–—−][' ~ whitespace ~ ']*\\p{Nd}|\\p{Nd}[' ~ whitespace ~ ']*[-–—−]') }}
            then null
        {%- for pattern, thousands, decimal in shapes %}
        {%- set number = text %}
        {%- if thousands %}{% set number = 'replace(' ~ number ~ ', ' ~ pipelines.sql_string(thousands) ~ ", '')" %}{% endif %}
        {%- if decimal == ',' %}{% set number = 'replace(' ~ number ~ ", ',', '.')" %}{% endif %}
        {%- set amount = pipelines.try_cast(number, pipelines.type_double()) %}
        {#- the bound inside each branch: around the whole case it would repeat every pattern #}
        when {{ pipelines.regexp_contains(text, pattern) }}
            then case when {{ amount }} <= {{ pipelines.price_upper_bound() }} then {{ amount }} end
        {%- endfor %}
    end
{%- endmacro %}

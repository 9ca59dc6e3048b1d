{#
    Small SQL pieces whose spelling differs between DuckDB and BigQuery. Models use these
    (and dbt's own cross-database macros: dbt.hash, dbt.dateadd, dbt.safe_cast, ...) so
    that one model text runs on both. Regular expressions are RE2 on both engines.
#}

{# A string literal holding `text` exactly (quotes and backslashes escaped). #}
{% macro sql_string(text) -%}
    {{ return(adapter.dispatch('sql_string', 'pipelines')(text)) }}
{%- endmacro %}

{% macro default__sql_string(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro bigquery__sql_string(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}


{# True where `expression` contains a match of the RE2 `pattern` (not anchored). #}
{% macro regexp_contains(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'pipelines')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pipelines.sql_string(pattern) }})
{%- endmacro %}

{% macro bigquery__regexp_contains(expression, pattern) -%}
    regexp_contains({{ expression }}, {{ pipelines.sql_string(pattern) }})
{%- endmacro %}


{# Every match of the RE2 `pattern` in `expression` replaced by the plain `replacement`. #}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'pipelines')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pipelines.sql_string(pattern) }}, {{ pipelines.sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro bigquery__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pipelines.sql_string(pattern) }}, {{ pipelines.sql_string(replacement) }})
{%- endmacro %}


{#
    Character-for-character replacement: the n-th character of `source_characters` becomes
    the n-th of `target_characters` (both engines spell it `translate`).
#}
{% macro translate_characters(expression, source_characters, target_characters) -%}
    translate({{ expression }}, {{ pipelines.sql_string(source_characters) }}, {{ pipelines.sql_string(target_characters) }})
{%- endmacro %}


{#
    A 64-bit float. dbt.type_float() is `float` on DuckDB, which there means a 4-byte REAL:
    prices would lose their cents.
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'pipelines')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro bigquery__type_double() -%}
    float64
{%- endmacro %}


{#
    A FROM-clause fragment: one row per element of the array `array_expression`, the element
    as `element_alias` (a struct's fields read as `element_alias.field`) and its 0-based
    position as `offset_alias`. Rows whose array is empty or null produce no rows.
#}
{% macro cross_join_unnest(array_expression, element_alias, offset_alias) -%}
    {{ return(adapter.dispatch('cross_join_unnest', 'pipelines')(array_expression, element_alias, offset_alias)) }}
{%- endmacro %}

{% macro default__cross_join_unnest(array_expression, element_alias, offset_alias) -%}
    cross join lateral (
        select
            unnested.{{ element_alias }},
            unnested.ordinality - 1 as {{ offset_alias }}
        from unnest({{ array_expression }}) with ordinality as unnested({{ element_alias }}, ordinality)
    ) as {{ element_alias }}_unnested
{%- endmacro %}

{% macro bigquery__cross_join_unnest(array_expression, element_alias, offset_alias) -%}
    cross join unnest({{ array_expression }}) as {{ element_alias }} with offset as {{ offset_alias }}
{%- endmacro %}


{# The number of elements of an array (0 for an empty one, null for null). #}
{% macro array_size(array_expression) -%}
    {{ return(adapter.dispatch('array_size', 'pipelines')(array_expression)) }}
{%- endmacro %}

{% macro default__array_size(array_expression) -%}
    len({{ array_expression }})
{%- endmacro %}

{% macro bigquery__array_size(array_expression) -%}
    array_length({{ array_expression }})
{%- endmacro %}


{# ISO day of the week: 1 = Monday ... 7 = Sunday. #}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'pipelines')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    isodow({{ date_expression }})
{%- endmacro %}

{% macro bigquery__iso_day_of_week(date_expression) -%}
    mod(extract(dayofweek from {{ date_expression }}) + 5, 7) + 1
{%- endmacro %}


{# ISO 8601 week number (weeks start on Monday; week 1 holds the year's first Thursday). #}
{% macro iso_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_week', 'pipelines')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_week(date_expression) -%}
    weekofyear({{ date_expression }})
{%- endmacro %}

{% macro bigquery__iso_week(date_expression) -%}
    extract(isoweek from {{ date_expression }})
{%- endmacro %}


{# A date's full English month and weekday names. #}
{% macro month_name(date_expression) -%}
    {{ return(adapter.dispatch('month_name', 'pipelines')(date_expression)) }}
{%- endmacro %}

{% macro default__month_name(date_expression) -%}
    monthname({{ date_expression }})
{%- endmacro %}

{% macro bigquery__month_name(date_expression) -%}
    format_date('%B', {{ date_expression }})
{%- endmacro %}

{% macro day_name(date_expression) -%}
    {{ return(adapter.dispatch('day_name', 'pipelines')(date_expression)) }}
{%- endmacro %}

{% macro default__day_name(date_expression) -%}
    dayname({{ date_expression }})
{%- endmacro %}

{% macro bigquery__day_name(date_expression) -%}
    format_date('%A', {{ date_expression }})
{%- endmacro %}


{# A timestamp's calendar date in UTC. #}
{% macro utc_date(timestamp_expression) -%}
    {{ return(adapter.dispatch('utc_date', 'pipelines')(timestamp_expression)) }}
{%- endmacro %}

{% macro default__utc_date(timestamp_expression) -%}
    cast(timezone('UTC', {{ timestamp_expression }}) as date)
{%- endmacro %}

{% macro bigquery__utc_date(timestamp_expression) -%}
    date({{ timestamp_expression }}, 'UTC')
{%- endmacro %}


{# A point in time (UTC): DuckDB's TIMESTAMPTZ, BigQuery's TIMESTAMP. #}
{% macro type_timestamp_utc() -%}
    {{ return(adapter.dispatch('type_timestamp_utc', 'pipelines')()) }}
{%- endmacro %}

{% macro default__type_timestamp_utc() -%}
    timestamptz
{%- endmacro %}

{% macro bigquery__type_timestamp_utc() -%}
    timestamp
{%- endmacro %}


{#
    A cast that answers null instead of failing. (dbt.safe_cast is a plain, failing cast
    on DuckDB: dbt-duckdb does not override dbt's default.)
#}
{% macro try_cast(expression, type) -%}
    {{ return(adapter.dispatch('try_cast', 'pipelines')(expression, type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
{%- endmacro %}

{% macro bigquery__try_cast(expression, type) -%}
    safe_cast({{ expression }} as {{ type }})
{%- endmacro %}

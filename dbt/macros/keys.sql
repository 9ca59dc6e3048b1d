{#
    Keys shared by several models, defined once so that a fact's foreign key and its
    dimension's primary key are always the same expression.
#}

{#
    A hash of several columns (dbt_utils' generate_surrogate_key, which cannot be installed
    here): nulls and empty strings stay distinguishable, and a separator keeps ('a', 'bc')
    apart from ('ab', 'c'). `||` is not used: DuckDB's concat() skips nulls where
    BigQuery's returns null, so every part is made non-null first.
#}
{% macro surrogate_key(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#
    Product ids arrive as text of an integer, sometimes as an integer (cart lines), which
    the pipeline writes as text: `125911`, sometimes `125911.0`. Integers are normalised
    to their plain decimal text; anything else is kept trimmed, and blanks become null.
#}
{% macro normalise_product_id(expression) -%}
    case
        when {{ pipelines.regexp_contains('trim(' ~ expression ~ ')', '^[0-9]{1,18}(\\.0+)?$') }}
            then cast(cast({{ pipelines.regexp_replace_all('trim(' ~ expression ~ ')', '\\.0+$', '') }} as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }})
        else nullif(trim({{ expression }}), '')
    end
{%- endmacro %}

{# The location of an event is its IP address as written (dim_location's key). #}
{% macro glamira_location_key(ip) -%}
    {{ dbt.hash(ip) }}
{%- endmacro %}

{# The device of an event is its user agent string as written (dim_device's key). #}
{% macro glamira_device_key(user_agent) -%}
    {{ dbt.hash(user_agent) }}
{%- endmacro %}

{#
    Who placed an order, by the best identity the event carries: the account id
    (`user_id_db`), else the e-mail address, else the device id. Arguments must already be
    cleaned (trimmed, blanks null, e-mail lower case).
#}
{% macro glamira_customer_identity_kind(user_id_db, email_address, device_id) -%}
    case
        when {{ user_id_db }} is not null then 'account'
        when {{ email_address }} is not null then 'email'
        when {{ device_id }} is not null then 'device'
    end
{%- endmacro %}

{% macro glamira_customer_key(user_id_db, email_address, device_id) -%}
    case
        when {{ user_id_db }} is not null then {{ dbt.hash(dbt.concat(["'account|'", user_id_db])) }}
        when {{ email_address }} is not null then {{ dbt.hash(dbt.concat(["'email|'", email_address])) }}
        when {{ device_id }} is not null then {{ dbt.hash(dbt.concat(["'device|'", device_id])) }}
    end
{%- endmacro %}

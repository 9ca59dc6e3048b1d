{#
    Where models go: a model with a custom schema (`staging`, `intermediate`, `seeds`) gets
    that schema, prefixed with the var `schema_prefix` (empty by default); the marts have no
    custom schema and go to the target's own schema (DuckDB `marts`, BigQuery
    `DBT_BIGQUERY_DATASET`). dbt's default would write `marts_staging`, `marts_intermediate`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ var('schema_prefix', '') }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

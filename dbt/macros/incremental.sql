{#
    The config of a fact rebuilt by day: DuckDB deletes the days it rebuilds and inserts
    them again (delete+insert on date_day); BigQuery overwrites their partitions
    (insert_overwrite on a table partitioned by date_day).
#}
{% macro daily_incremental_config(cluster_by=none) -%}
    {%- if target.type == 'bigquery' -%}
        {%- set settings = {
            'incremental_strategy': 'insert_overwrite',
            'partition_by': {'field': 'date_day', 'data_type': 'date', 'granularity': 'day'},
            'cluster_by': cluster_by,
        } -%}
    {%- else -%}
        {%- set settings = {'incremental_strategy': 'delete+insert', 'unique_key': 'date_day'} -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{#
    Which days an incremental run rebuilds (a full build takes every day):
    - the vars `start_day` (and `end_day`, default `start_day`) when given: what a flow
      passes after it has (re)loaded days;
    - otherwise the last `lookback_days` days up to the newest already built, and later.
#}
{% macro incremental_days(column) -%}
    {%- if is_incremental() -%}
        {%- if var('start_day', none) -%}
            {{ column }} between cast('{{ var("start_day") }}' as date)
                and cast('{{ var("end_day", none) or var("start_day") }}' as date)
        {%- else -%}
            {{ column }} >= (
                select cast({{ dbt.dateadd('day', -1 * var('lookback_days', 3), 'max(date_day)') }} as date)
                from {{ this }}
            )
            or (select count(*) from {{ this }}) = 0
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

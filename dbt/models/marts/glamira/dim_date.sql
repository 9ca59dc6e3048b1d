with

days as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('dim_date_start') ~ "' as date)",
        dbt.dateadd('day', 1, "cast('" ~ var('dim_date_end') ~ "' as date)")
    ) }}

),

dated as (

    select cast(date_day as date) as date_day
    from days

),

described as (

    select
        date_day,
        {{ pipelines.iso_day_of_week('date_day') }} as iso_day_of_week,
        extract(year from date_day) as calendar_year,
        extract(quarter from date_day) as calendar_quarter,
        extract(month from date_day) as calendar_month,
        extract(day from date_day) as day_of_month,
        {{ pipelines.iso_week('date_day') }} as iso_week,
        {{ pipelines.month_name('date_day') }} as month_name,
        {{ pipelines.day_name('date_day') }} as day_name

    from dated

)

select
    date_day,
    cast(calendar_year as {{ dbt.type_int() }}) as calendar_year,
    cast(calendar_quarter as {{ dbt.type_int() }}) as calendar_quarter,
    cast(calendar_month as {{ dbt.type_int() }}) as calendar_month,
    month_name,
    cast(day_of_month as {{ dbt.type_int() }}) as day_of_month,
    cast(iso_day_of_week as {{ dbt.type_int() }}) as iso_day_of_week,
    day_name,
    cast(iso_week as {{ dbt.type_int() }}) as iso_week,
    cast({{ dbt.dateadd('day', '1 - iso_day_of_week', 'date_day') }} as date) as week_start_day,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_day,
    iso_day_of_week in (6, 7) as is_weekend

from described

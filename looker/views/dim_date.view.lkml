# marts.dim_date: one row per calendar day (dbt vars dim_date_start to dim_date_end).
view: dim_date {
  sql_table_name: @{marts_dataset}.dim_date ;;
  view_label: "Calendar"

  dimension: date_key {
    primary_key: yes
    hidden: yes
    type: date
    convert_tz: no
    datatype: date
    sql: ${TABLE}.date_day ;;
  }

  dimension_group: calendar {
    type: time
    timeframes: [raw, date]
    convert_tz: no
    datatype: date
    sql: ${TABLE}.date_day ;;
  }

  dimension: calendar_year {
    type: number
    value_format_name: id
    sql: ${TABLE}.calendar_year ;;
  }

  dimension: calendar_quarter {
    type: number
    sql: ${TABLE}.calendar_quarter ;;
  }

  dimension: calendar_month {
    type: number
    sql: ${TABLE}.calendar_month ;;
  }

  dimension: month_name {
    type: string
    order_by_field: calendar_month
    sql: ${TABLE}.month_name ;;
  }

  dimension: day_of_month {
    type: number
    sql: ${TABLE}.day_of_month ;;
  }

  dimension: iso_day_of_week {
    type: number
    description: "1 = Monday ... 7 = Sunday."
    sql: ${TABLE}.iso_day_of_week ;;
  }

  dimension: day_name {
    type: string
    order_by_field: iso_day_of_week
    sql: ${TABLE}.day_name ;;
  }

  dimension: iso_week {
    type: number
    sql: ${TABLE}.iso_week ;;
  }

  dimension: week_start_day {
    type: date
    convert_tz: no
    datatype: date
    description: "The Monday of the day's ISO week."
    sql: ${TABLE}.week_start_day ;;
  }

  dimension: month_start_day {
    type: date
    convert_tz: no
    datatype: date
    sql: ${TABLE}.month_start_day ;;
  }

  dimension: is_weekend {
    type: yesno
    sql: ${TABLE}.is_weekend ;;
  }
}

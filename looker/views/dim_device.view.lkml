# marts.dim_device: one row per user agent (the key is its hash), parsed with ua-parser.
view: dim_device {
  sql_table_name: @{marts_dataset}.dim_device ;;
  view_label: "Device"

  dimension: device_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.device_key ;;
  }

  # An order line without a user agent joins no row: "unknown", as the events mart and the
  # offline dashboard count it.
  dimension: device_type {
    type: string
    description: "desktop, mobile, tablet, bot or unknown."
    sql: COALESCE(${TABLE}.device_type, 'unknown') ;;
  }

  dimension: browser_family {
    type: string
    sql: ${TABLE}.browser_family ;;
  }

  dimension: browser_major {
    type: string
    sql: ${TABLE}.browser_major ;;
  }

  dimension: os_family {
    type: string
    sql: ${TABLE}.os_family ;;
  }

  dimension: os_major {
    type: string
    sql: ${TABLE}.os_major ;;
  }

  dimension: device_family {
    type: string
    sql: ${TABLE}.device_family ;;
  }

  dimension: device_brand {
    type: string
    sql: ${TABLE}.device_brand ;;
  }

  dimension: device_model {
    type: string
    sql: ${TABLE}.device_model ;;
  }

  dimension: user_agent {
    type: string
    sql: ${TABLE}.user_agent ;;
  }

  dimension_group: first_seen {
    type: time
    timeframes: [raw, date]
    convert_tz: no
    datatype: date
    sql: ${TABLE}.first_seen_day ;;
  }

  measure: devices {
    label: "User agents"
    type: count
  }
}

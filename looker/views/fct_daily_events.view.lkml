# marts.fct_daily_events: one row per UTC day, store, device type and collection (event
# type), with the events and the distinct devices that made them. The funnel counts events,
# not people: a step can exceed the one before it. Rates divide by NULLIF(x, 0), which
# BigQuery and DuckDB both run (the tests run this SQL on DuckDB), not SAFE_DIVIDE.
view: fct_daily_events {
  sql_table_name: @{marts_dataset}.fct_daily_events ;;
  view_label: "Website events"

  dimension: daily_events_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.daily_events_key ;;
  }

  dimension_group: event {
    type: time
    description: "The UTC day of the events."
    timeframes: [raw, date, week, month, quarter, year, day_of_week]
    convert_tz: no
    datatype: date
    sql: ${TABLE}.date_day ;;
  }

  dimension: store_key {
    hidden: yes
    type: string
    sql: ${TABLE}.store_key ;;
  }

  dimension: device_type {
    type: string
    description: "desktop, mobile, tablet, bot or unknown (from the user agent)."
    sql: ${TABLE}.device_type ;;
  }

  dimension: collection {
    label: "Event type"
    type: string
    description: "The tracked collection: view_product_detail, select_product_option, add_to_cart_action, checkout, checkout_success ..."
    sql: ${TABLE}.collection ;;
  }

  dimension: funnel_step {
    type: number
    description: "1 = product view ... 5 = checkout success; empty for events outside the funnel."
    sql: CASE ${TABLE}.collection
           WHEN 'view_product_detail' THEN 1
           WHEN 'select_product_option' THEN 2
           WHEN 'add_to_cart_action' THEN 3
           WHEN 'checkout' THEN 4
           WHEN 'checkout_success' THEN 5
         END ;;
  }

  measure: events {
    type: sum
    sql: ${TABLE}.events ;;
  }

  measure: device_days {
    label: "Devices (summed per day)"
    type: sum
    description: "Distinct devices per day, store, device type and event type, summed: a device seen on two days or in two event types counts twice."
    sql: ${TABLE}.devices ;;
  }

  # -- the funnel's steps, in order ----------------------------------------------------------

  measure: product_views {
    group_label: "Funnel"
    type: sum
    sql: CASE WHEN ${TABLE}.collection = 'view_product_detail' THEN ${TABLE}.events END ;;
  }

  measure: option_selections {
    group_label: "Funnel"
    type: sum
    sql: CASE WHEN ${TABLE}.collection = 'select_product_option' THEN ${TABLE}.events END ;;
  }

  measure: add_to_cart {
    group_label: "Funnel"
    label: "Add to cart"
    type: sum
    sql: CASE WHEN ${TABLE}.collection = 'add_to_cart_action' THEN ${TABLE}.events END ;;
  }

  measure: checkouts {
    group_label: "Funnel"
    type: sum
    sql: CASE WHEN ${TABLE}.collection = 'checkout' THEN ${TABLE}.events END ;;
  }

  measure: checkout_successes {
    group_label: "Funnel"
    type: sum
    description: "Every success page view: more than the deduplicated orders of the order lines."
    sql: CASE WHEN ${TABLE}.collection = 'checkout_success' THEN ${TABLE}.events END ;;
  }

  # -- step-to-step rates (events over the previous step's events) ---------------------------

  measure: view_to_option {
    group_label: "Funnel rates"
    label: "View → option"
    type: number
    value_format_name: percent_1
    sql: 1.0 * ${option_selections} / NULLIF(${product_views}, 0) ;;
  }

  measure: option_to_cart {
    group_label: "Funnel rates"
    label: "Option → cart"
    type: number
    value_format_name: percent_1
    sql: 1.0 * ${add_to_cart} / NULLIF(${option_selections}, 0) ;;
  }

  measure: cart_to_checkout {
    group_label: "Funnel rates"
    label: "Cart → checkout"
    type: number
    value_format_name: percent_1
    sql: 1.0 * ${checkouts} / NULLIF(${add_to_cart}, 0) ;;
  }

  measure: checkout_to_success {
    group_label: "Funnel rates"
    label: "Checkout → success"
    type: number
    value_format_name: percent_1
    sql: 1.0 * ${checkout_successes} / NULLIF(${checkouts}, 0) ;;
  }

  measure: view_to_success {
    group_label: "Funnel rates"
    label: "View → success (overall)"
    type: number
    value_format_name: percent_1
    sql: 1.0 * ${checkout_successes} / NULLIF(${product_views}, 0) ;;
  }
}

# marts.dim_customer: one row per customer with at least one successful order, by the best
# identity an order carried (account, e-mail, device). No e-mail address: only its domain.
view: dim_customer {
  sql_table_name: @{marts_dataset}.dim_customer ;;
  view_label: "Customer"

  dimension: customer_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.customer_key ;;
  }

  dimension: identity_kind {
    type: string
    description: "account, email or device: the identity the customer is known by."
    sql: ${TABLE}.identity_kind ;;
  }

  dimension: has_account {
    type: yesno
    sql: ${TABLE}.account_id IS NOT NULL ;;
  }

  dimension: account_id {
    type: string
    sql: ${TABLE}.account_id ;;
  }

  dimension: email_domain {
    type: string
    sql: ${TABLE}.email_domain ;;
  }

  dimension: last_store_key {
    hidden: yes
    type: string
    sql: ${TABLE}.last_store_key ;;
  }

  dimension: lifetime_orders {
    type: number
    description: "How many successful orders the customer placed."
    sql: ${TABLE}.orders ;;
  }

  dimension: is_repeat_customer {
    type: yesno
    sql: ${TABLE}.orders > 1 ;;
  }

  dimension_group: first_order {
    type: time
    timeframes: [raw, time, date, month]
    sql: ${TABLE}.first_order_at ;;
  }

  dimension_group: last_order {
    type: time
    timeframes: [raw, time, date, month]
    sql: ${TABLE}.last_order_at ;;
  }

  measure: customer_count {
    label: "Customers"
    type: count
  }
}

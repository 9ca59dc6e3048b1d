# Glamira's sales and website activity, over the dbt marts in BigQuery.
#
# The SQL in every view is kept to what BigQuery and DuckDB both run (SUM, COUNT(DISTINCT),
# CASE, COALESCE, NULLIF, CONCAT): tests/integration/test_looker.py runs it on marts built
# by dbt on DuckDB and checks the figures against the offline dashboard's own queries.
# Ratios divide by NULLIF(x, 0), not SAFE_DIVIDE (BigQuery only), for that reason.
connection: "@{glamira_connection}"

include: "/views/*.view.lkml"
include: "/glamira_sales.dashboard.lookml"

datagroup: glamira_marts {
  # dbt rebuilds the marts once a day (warehouse-marts, 04:00 UTC); a newer day in the
  # order lines means a new build, and one a day at least clears the cache.
  sql_trigger: SELECT MAX(date_day) FROM @{marts_dataset}.fct_sales_order_line ;;
  max_cache_age: "24 hours"
}

persist_with: glamira_marts

week_start_day: monday

# One row per cart line of a deduplicated successful checkout. Every join is many-to-one
# on a dimension's key, so a measure of the order lines never fans out.
explore: sales {
  view_name: fct_sales_order_line
  label: "Sales"
  description: "Order lines of successful checkouts, with store, product, buyer location, device, customer and calendar."

  join: dim_store {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.store_key} = ${dim_store.store_key} ;;
  }

  join: dim_product {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.product_key} = ${dim_product.product_key} ;;
  }

  join: dim_location {
    view_label: "Buyer location"
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.location_key} = ${dim_location.location_key} ;;
  }

  join: dim_device {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.device_key} = ${dim_device.device_key} ;;
  }

  join: dim_customer {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.customer_key} = ${dim_customer.customer_key} ;;
  }

  join: dim_date {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_sales_order_line.order_raw} = ${dim_date.calendar_raw} ;;
  }
}

# Website activity: events per day, store, device type and collection (the funnel and the
# device mix). Device type is a column of the fact: there is no device key to join on.
explore: events {
  view_name: fct_daily_events
  label: "Website events"
  description: "Daily tracked events by store, device type and collection: the purchase funnel."

  join: dim_store {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_daily_events.store_key} = ${dim_store.store_key} ;;
  }

  join: dim_date {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_daily_events.event_raw} = ${dim_date.calendar_raw} ;;
  }
}

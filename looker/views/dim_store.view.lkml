# marts.dim_store: one row per Glamira store (a domain with its own currency), from the
# dbt seed `stores`. An order line of a store the seed does not know joins no row: its
# domain reads "Unknown", as on the offline dashboard.
view: dim_store {
  sql_table_name: @{marts_dataset}.dim_store ;;
  view_label: "Store"

  dimension: store_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.store_key ;;
  }

  dimension: store_id {
    type: string
    sql: ${TABLE}.store_id ;;
  }

  dimension: domain {
    label: "Store"
    type: string
    description: "The store's website; Unknown for a store id the stores seed lacks."
    sql: COALESCE(${TABLE}.domain, 'Unknown') ;;
    link: {
      label: "Open the store"
      url: "https://www.{{ value }}/"
    }
  }

  dimension: country_code {
    label: "Market"
    type: string
    map_layer_name: countries
    description: "The store's market (ISO 3166 alpha-2), not the buyer's country."
    sql: ${TABLE}.country_code ;;
  }

  dimension: currency {
    type: string
    description: "The store's currency (ISO 4217); its prices are in it."
    sql: ${TABLE}.currency ;;
  }

  measure: stores {
    type: count
  }
}

# marts.dim_product: one row per product the events name or the crawler visited; its name
# is the one of its latest successful crawl, empty while no crawl has named it.
view: dim_product {
  sql_table_name: @{marts_dataset}.dim_product ;;
  view_label: "Product"

  dimension: product_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.product_key ;;
  }

  dimension: product_id {
    type: string
    sql: ${TABLE}.product_id ;;
  }

  dimension: product_name {
    label: "Crawled name"
    type: string
    description: "The name from the latest successful crawl; empty if never named."
    sql: ${TABLE}.product_name ;;
  }

  # The offline dashboard's label: products never named show their id.
  dimension: name {
    label: "Product"
    type: string
    sql: COALESCE(NULLIF(TRIM(${TABLE}.product_name), ''), CONCAT('(unnamed product ', COALESCE(${TABLE}.product_id, 'unknown'), ')')) ;;
  }

  dimension: name_source {
    type: string
    sql: ${TABLE}.name_source ;;
  }

  dimension_group: named {
    type: time
    description: "When the crawl that named the product happened."
    timeframes: [raw, time, date]
    sql: ${TABLE}.named_at ;;
  }

  dimension: product_url {
    type: string
    sql: ${TABLE}.product_url ;;
    link: {
      label: "Open the product page"
      url: "{{ value }}"
    }
  }

  dimension: crawled_price {
    type: number
    description: "The price on the product page, in Crawled currency."
    sql: ${TABLE}.crawled_price ;;
  }

  dimension: crawled_currency {
    type: string
    sql: ${TABLE}.crawled_currency ;;
  }

  dimension_group: last_crawl {
    type: time
    timeframes: [raw, date]
    convert_tz: no
    datatype: date
    sql: ${TABLE}.last_crawl_day ;;
  }

  dimension: last_crawl_outcome {
    type: string
    description: "ok or failed; empty if never crawled."
    sql: ${TABLE}.last_crawl_outcome ;;
  }

  dimension: last_crawl_failure_reason {
    type: string
    sql: ${TABLE}.last_crawl_failure_reason ;;
  }

  measure: products {
    type: count
  }
}

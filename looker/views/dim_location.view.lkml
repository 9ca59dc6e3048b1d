# marts.dim_location: one row per IP address (the key is its hash; no address is kept), as
# located on the day it was first seen. Only public addresses have a location.
view: dim_location {
  sql_table_name: @{marts_dataset}.dim_location ;;

  dimension: location_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.location_key ;;
  }

  # The offline dashboard's rule for the buyer's country: a public (or unclassified)
  # address with a two-letter code and a name; anything else, and an order without a
  # location (no joined row), is "Unknown".
  dimension: is_located {
    type: yesno
    sql: (${TABLE}.ip_kind IS NULL OR ${TABLE}.ip_kind = 'public') AND LENGTH(${TABLE}.country_code) = 2 AND NULLIF(TRIM(${TABLE}.country_name), '') IS NOT NULL ;;
  }

  dimension: country {
    type: string
    description: "The buyer's country (not the store's); Unknown when the address gives none."
    sql: CASE WHEN ${is_located} THEN ${TABLE}.country_name ELSE 'Unknown' END ;;
  }

  dimension: country_code {
    type: string
    map_layer_name: countries
    sql: CASE WHEN ${is_located} THEN ${TABLE}.country_code END ;;
  }

  dimension: ip_version {
    type: number
    sql: ${TABLE}.ip_version ;;
  }

  dimension: ip_kind {
    type: string
    description: "public, private, reserved or invalid."
    sql: ${TABLE}.ip_kind ;;
  }

  dimension: region {
    type: string
    sql: ${TABLE}.region ;;
  }

  dimension: city {
    type: string
    sql: ${TABLE}.city ;;
  }

  dimension: zip_code {
    type: zipcode
    sql: ${TABLE}.zip_code ;;
  }

  dimension: time_zone {
    type: string
    sql: ${TABLE}.time_zone ;;
  }

  dimension: latitude {
    hidden: yes
    type: number
    sql: ${TABLE}.latitude ;;
  }

  dimension: longitude {
    hidden: yes
    type: number
    sql: ${TABLE}.longitude ;;
  }

  dimension: location {
    type: location
    sql_latitude: ${TABLE}.latitude ;;
    sql_longitude: ${TABLE}.longitude ;;
  }

  dimension_group: first_seen {
    type: time
    timeframes: [raw, date]
    convert_tz: no
    datatype: date
    sql: ${TABLE}.first_seen_day ;;
  }

  measure: addresses {
    label: "IP addresses"
    type: count
  }
}

{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        **pipelines.daily_incremental_config(cluster_by=['store_key', 'product_key'])
    )
}}

with

order_lines as (

    select * from {{ ref('int_order_lines_unnested') }}
    where {{ pipelines.incremental_days('date_day') }}

),

line_options as (

    select * from {{ ref('int_order_line_options_unnested') }}

),

stores as (

    select * from {{ ref('stores') }}

),

exchange_rates as (

    select * from {{ ref('int_exchange_rates_valid') }}

),

options_pivoted as (

    select
        order_line_key,
        max(case when option_name = 'alloy' then value_label end) as option_alloy,
        max(case when option_name = 'stone' then value_label end) as option_stone,
        max(case when option_name = 'ring size' then value_label end) as option_ring_size,
        max(case when option_name = 'pearl' then value_label end) as option_pearl,
        count(*) as option_count

    from line_options
    group by 1

),

{#
    The store is the truth about the currency: lines sometimes carry a symbol (`€`). A
    store the seed does not know leaves the currency and the USD amounts null.
    A line's totals need a quantity from 1 to max_line_quantity() (macros/bounds.sql):
    a cart `amount` of 0, below 0, missing or absurd is kept, flagged, and left out of
    the totals rather than multiplied into them.
#}
priced as (

    select
        order_lines.*,
        coalesce(
            order_lines.quantity between 1 and {{ pipelines.max_line_quantity() }}, false
        ) as quantity_is_supported,
        stores.currency,
        exchange_rates.usd_per_unit

    from order_lines
    left join stores
        on order_lines.store_id = stores.store_id
    left join exchange_rates
        on stores.currency = exchange_rates.currency
        and order_lines.date_day >= exchange_rates.valid_from
        and order_lines.date_day < exchange_rates.valid_until

)

select
    priced.order_line_key,
    priced.order_key,
    priced.store_id as store_key,
    priced.date_day,
    priced.product_id as product_key,
    priced.customer_key,
    priced.location_key,
    priced.device_key,
    priced.order_id,
    priced.event_id,
    priced.line_number,
    priced.quantity,
    priced.currency,
    priced.price_text,
    priced.price_status,
    case priced.price_status
        when 'parsed' then true
        when 'unsupported' then false
    end as price_is_supported,
    priced.quantity_is_supported,
    priced.unit_price_local,
    case when priced.quantity_is_supported then priced.unit_price_local * priced.quantity end as line_total_local,
    priced.usd_per_unit,
    priced.unit_price_local * priced.usd_per_unit as unit_price_usd,
    case
        when priced.quantity_is_supported then priced.unit_price_local * priced.quantity * priced.usd_per_unit
    end as line_total_usd,
    priced.is_paypal,
    options_pivoted.option_alloy,
    options_pivoted.option_stone,
    options_pivoted.option_ring_size,
    options_pivoted.option_pearl,
    coalesce(options_pivoted.option_count, 0) as option_count,
    priced.event_at

from priced
left join options_pivoted
    on priced.order_line_key = options_pivoted.order_line_key


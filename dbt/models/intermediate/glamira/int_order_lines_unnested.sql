{#
    The cart of every deduplicated successful checkout, one row per line, in the order the
    cart lists them; prices parsed in SQL by the same rules as the pipeline's Python
    (macros/parse_price.sql). A price that is present but of no supported shape is
    `unsupported`: its amount stays null and is counted, never guessed.
#}
with

checkouts as (

    select * from {{ ref('int_checkouts_deduplicated') }}

),

lines as (

    select
        checkouts.order_key,
        checkouts.store_id,
        checkouts.order_id,
        checkouts.event_id,
        checkouts.date_day,
        checkouts.event_at,
        checkouts.customer_key,
        checkouts.location_key,
        checkouts.device_key,
        checkouts.is_paypal,
        line_offset + 1 as line_number,
        line.product_id as product_id_text,
        line.amount as quantity,
        line.price as price_text,
        line.price_amount as price_amount_parsed_in_python,
        line.currency as currency_text,
        line.{{ adapter.quote('option') }} as line_options

    from checkouts
    {{ pipelines.cross_join_unnest('checkouts.cart_products', 'line', 'line_offset') }}

),

parsed as (

    select
        *,
        {{ pipelines.normalise_product_id('product_id_text') }} as product_id,
        {{ pipelines.parse_price('price_text') }} as unit_price_local,
        {{ pipelines.price_is_blank('price_text') }} as is_price_missing

    from lines

),

final as (

    select
        {{ pipelines.surrogate_key(['order_key', 'line_number']) }} as order_line_key,
        order_key,
        line_number,
        store_id,
        order_id,
        event_id,
        date_day,
        event_at,
        customer_key,
        location_key,
        device_key,
        is_paypal,
        product_id,
        quantity,
        currency_text,
        price_text,
        case
            when is_price_missing then 'missing'
            when unit_price_local is null then 'unsupported'
            else 'parsed'
        end as price_status,
        unit_price_local,
        price_amount_parsed_in_python,
        line_options

    from parsed

)

select * from final

{#
    The browser sometimes sends a checkout_success twice: same store and order, another
    event id, maybe a later time_stamp. An order is its store and order id (order ids
    repeat across stores); a checkout without an order id is its own order. The first sent
    (earliest time_stamp, then lowest event id) is kept, whatever day the copies fell on.
    The same event id can also sit on two days of the raw table (its document's
    time_stamp changed between two extractions, maybe with another order id): its
    earliest copy alone is a checkout, so that event_id stays a key here.
#}
with

events as (

    select * from {{ ref('stg_glamira__events') }}

),

checkouts as (

    select
        case
            when order_id is not null then {{ pipelines.surrogate_key(["'order'", 'store_id', 'order_id']) }}
            else {{ pipelines.surrogate_key(["'event'", 'event_id']) }}
        end as order_key,
        events.*

    from events
    where collection = 'checkout_success'

),

copies as (

    select
        *,
        row_number() over (partition by event_id order by time_stamp, date_day, order_key) as copy_order

    from checkouts

),

distinct_events as (

    select * from copies
    where copy_order = 1

),

numbered as (

    select
        *,
        row_number() over (partition by order_key order by time_stamp, event_id) as sent_order,
        count(*) over (partition by order_key) as times_sent

    from distinct_events

),

first_sent as (

    select
        order_key,
        store_id,
        order_id,
        event_id,
        date_day,
        event_at,
        time_stamp,
        customer_key,
        customer_identity_kind,
        user_id_db,
        email_domain,
        device_id,
        device_key,
        location_key,
        currency_text,
        is_paypal,
        cart_products,
        times_sent

    from numbered
    where sent_order = 1

)

select * from first_sent

-- The SQL price parser and the pipeline's Python parser (tasks/glamira/prices.py) agree
-- on every distinct price of the raw events: the events' `price` and every cart line's.
-- Days loaded before prices above 10^12 became unsupported hold such amounts (infinity
-- for a string of 400 digits): they read as unsupported, as the pipeline reads them now,
-- so that an old raw row cannot fail the build.
with

events as (

    select * from {{ source('glamira', 'events') }}

),

event_prices as (

    select distinct
        price as price_text,
        price_amount as python_amount

    from events
    where price is not null

),

-- carts only: unnesting every event's (mostly empty) list took 12 s at 10 M events, 1 s this way
carts as (

    select cart_products
    from events
    where {{ pipelines.array_size('cart_products') }} > 0

),

line_prices as (

    select distinct
        line.price as price_text,
        line.price_amount as python_amount

    from carts
    {{ pipelines.cross_join_unnest('carts.cart_products', 'line', 'line_offset') }}
    where line.price is not null

),

prices as (

    select price_text, python_amount from event_prices
    union distinct
    select price_text, python_amount from line_prices

),

compared as (

    select
        price_text,
        case when python_amount <= {{ pipelines.price_upper_bound() }} then python_amount end as python_amount,
        {{ pipelines.parse_price('price_text') }} as sql_amount

    from prices

)

select *
from compared
where
    (python_amount is null and sql_amount is not null)
    or (python_amount is not null and sql_amount is null)
    or abs(sql_amount - python_amount) > 1e-9 * greatest(1, abs(python_amount))

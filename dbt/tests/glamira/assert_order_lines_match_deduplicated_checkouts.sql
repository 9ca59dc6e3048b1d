-- fct_sales_order_line holds exactly the cart lines of the deduplicated successful
-- checkouts: no line lost by the unnesting, none doubled by a join.
with

checkouts as (

    select * from {{ ref('int_checkouts_deduplicated') }}

),

order_lines as (

    select * from {{ ref('fct_sales_order_line') }}

),

expected as (

    select
        order_key,
        coalesce({{ pipelines.array_size('cart_products') }}, 0) as lines

    from checkouts

),

actual as (

    select
        order_key,
        count(*) as lines

    from order_lines
    group by 1

)

select
    coalesce(expected.order_key, actual.order_key) as order_key,
    expected.lines as expected_lines,
    actual.lines as actual_lines

from expected
full outer join actual
    on expected.order_key = actual.order_key
where coalesce(expected.lines, 0) <> coalesce(actual.lines, 0)

{#
    How the day's price strings parsed, so that unsupported prices are counted, never
    silently lost: the `price` of every event that carries one, and the price of every
    line of a deduplicated successful order (what fct_sales_order_line reads).
#}
with

events as (

    select * from {{ ref('stg_glamira__events') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unnested') }}

),

event_prices as (

    select
        date_day,
        'event' as price_source,
        price_text,
        {{ pipelines.parse_price('price_text') }} as amount,
        {{ pipelines.price_is_blank('price_text') }} as is_missing

    from events
    where price_text is not null

),

event_outcomes as (

    select
        date_day,
        price_source,
        price_text,
        case
            when is_missing then 'missing'
            when amount is null then 'unsupported'
            else 'parsed'
        end as price_status

    from event_prices

),

line_outcomes as (

    select
        date_day,
        'order_line' as price_source,
        price_text,
        price_status

    from order_lines

),

outcomes as (

    select * from event_outcomes
    union all
    select * from line_outcomes

),

counted as (

    select
        date_day,
        price_source,
        price_status,
        count(*) as prices,
        count(distinct price_text) as distinct_texts,
        min(price_text) as example_text

    from outcomes
    group by 1, 2, 3

)

select * from counted

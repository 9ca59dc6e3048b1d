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

-- a day holds a few hundred distinct price strings among millions of events: each is
-- parsed once (a view parsing every row took 10 s a test at 10 M events)
event_texts as (

    select
        date_day,
        price_text,
        count(*) as prices

    from events
    where price_text is not null
    group by 1, 2

),

event_outcomes as (

    select
        date_day,
        'event' as price_source,
        price_text,
        prices,
        case
            when {{ pipelines.price_is_blank('price_text') }} then 'missing'
            when {{ pipelines.parse_price('price_text') }} is null then 'unsupported'
            else 'parsed'
        end as price_status

    from event_texts

),

line_outcomes as (

    select
        date_day,
        'order_line' as price_source,
        price_text,
        count(*) as prices,
        price_status

    from order_lines
    group by date_day, price_text, price_status

),

outcomes as (

    select date_day, price_source, price_text, prices, price_status from event_outcomes
    union all
    select date_day, price_source, price_text, prices, price_status from line_outcomes

),

counted as (

    select
        date_day,
        price_source,
        price_status,
        cast(sum(prices) as {{ dbt.type_bigint() }}) as prices,
        count(distinct price_text) as distinct_texts,
        min(price_text) as example_text

    from outcomes
    group by 1, 2, 3

)

select * from counted

-- An unsupported price never gets an amount, a parsed one always has one, and every
-- unsupported order line price is counted in int_price_parse_outcomes.
with

order_lines as (

    select * from {{ ref('fct_sales_order_line') }}

),

outcomes as (

    select * from {{ ref('int_price_parse_outcomes') }}

),

guessed as (

    select
        'amount for a price that is not parsed' as problem,
        count(*) as lines

    from order_lines
    where price_status <> 'parsed' and (unit_price_local is not null or line_total_usd is not null)

),

lost as (

    select
        'parsed price without an amount' as problem,
        count(*) as lines

    from order_lines
    where price_status = 'parsed' and unit_price_local is null

),

in_fact as (

    select count(*) as lines
    from order_lines
    where price_status = 'unsupported'

),

counted as (

    select coalesce(sum(prices), 0) as lines
    from outcomes
    where price_source = 'order_line' and price_status = 'unsupported'

),

uncounted as (

    select
        'unsupported order line prices not counted' as problem,
        abs(in_fact.lines - counted.lines) as lines

    from in_fact
    cross join counted

),

problems as (

    select * from guessed
    union all
    select * from lost
    union all
    select * from uncounted

)

select * from problems
where lines > 0

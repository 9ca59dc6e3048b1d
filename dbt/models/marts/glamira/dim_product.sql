{#
    Every product the events name (viewed, recommended, in a cart) or the crawler
    visited. Its name is the one of its latest successful crawl; null while no crawl has
    named it (pages fail: 403s, 404s, pages without a name).
#}
with

events as (

    select * from {{ ref('stg_glamira__events') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unnested') }}

),

crawls as (

    select * from {{ ref('stg_glamira__products') }}

),

products_seen as (

    select product_id from events where product_id is not null
    union distinct
    select viewing_product_id from events where viewing_product_id is not null
    union distinct
    select recommendation_product_id from events where recommendation_product_id is not null
    union distinct
    select product_id from order_lines where product_id is not null
    union distinct
    select product_id from crawls where product_id is not null

),

crawls_ranked as (

    select
        *,
        row_number() over (
            partition by product_id order by crawled_at desc, crawl_day desc
        ) as crawl_recency,
        row_number() over (
            partition by product_id, case when outcome = 'ok' and product_name is not null then 1 else 0 end
            order by crawled_at desc, crawl_day desc
        ) as outcome_recency

    from crawls

),

latest_named as (

    select * from crawls_ranked
    where outcome = 'ok' and product_name is not null and outcome_recency = 1

),

latest_crawl as (

    select * from crawls_ranked
    where crawl_recency = 1

)

select
    products_seen.product_id as product_key,
    products_seen.product_id,
    latest_named.product_name,
    latest_named.name_source,
    latest_named.crawled_at as named_at,
    coalesce(latest_named.fetched_url, latest_crawl.fetched_url) as product_url,
    latest_named.crawled_price,
    latest_named.crawled_currency,
    latest_crawl.crawl_day as last_crawl_day,
    latest_crawl.outcome as last_crawl_outcome,
    latest_crawl.failure_reason as last_crawl_failure_reason

from products_seen
left join latest_named
    on products_seen.product_id = latest_named.product_id
left join latest_crawl
    on products_seen.product_id = latest_crawl.product_id

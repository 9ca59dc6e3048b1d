with

source as (

    select * from {{ source('glamira', 'products') }}

),

cleaned as (

    select
        {{ pipelines.normalise_product_id('product_id') }} as product_id,
        day as crawl_day,
        {{ pipelines.try_cast('crawled_at', pipelines.type_timestamp_utc()) }} as crawled_at,
        url as product_url,
        fetched_url,
        status as http_status,
        outcome,
        nullif(trim(name), '') as product_name,
        source as name_source,
        price as crawled_price,
        nullif(trim(currency), '') as crawled_currency,
        reason as failure_reason,
        transient as is_transient_failure

    from source

),

keyed as (

    select
        {{ pipelines.surrogate_key(['product_id', 'crawl_day']) }} as product_crawl_key,
        *

    from cleaned

)

select * from keyed

with

stores as (

    select * from {{ ref('stores') }}

)

select
    store_id as store_key,
    store_id,
    domain,
    country_code,
    currency

from stores

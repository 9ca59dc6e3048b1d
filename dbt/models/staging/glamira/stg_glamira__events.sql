with

source as (

    select * from {{ source('glamira', 'events') }}

),

cleaned as (

    select
        event_id,
        day as date_day,
        event_at,
        time_stamp,
        collection,
        nullif(trim(store_id), '') as store_id,
        nullif(trim(order_id), '') as order_id,
        nullif(trim(user_id_db), '') as user_id_db,
        nullif(lower(trim(email_address)), '') as email_address,
        nullif(trim(device_id), '') as device_id,
        ip,
        user_agent,
        {{ pipelines.normalise_product_id('product_id') }} as product_id,
        {{ pipelines.normalise_product_id('viewing_product_id') }} as viewing_product_id,
        {{ pipelines.normalise_product_id('recommendation_product_id') }} as recommendation_product_id,
        recommendation_product_position,
        recommendation_clicked_position,
        nullif(trim(cat_id), '') as category_id,
        nullif(trim(collect_id), '') as collect_id,
        key_search as search_keywords,
        resolution,
        api_version,
        local_time as local_time_text,
        case lower(show_recommendation) when 'true' then true when 'false' then false end as is_recommendation_shown,
        recommendation,
        current_url,
        nullif(referrer_url, '') as referrer_url,
        nullif(nullif(utm_source, ''), 'false') as utm_source,
        nullif(nullif(utm_medium, ''), 'false') as utm_medium,
        price as price_text,
        price_amount as price_amount_parsed_in_python,
        nullif(trim(currency), '') as currency_text,
        case lower(is_paypal) when 'true' then true when 'false' then false end as is_paypal,
        {{ adapter.quote('option') }} as options,
        option_raw,
        cart_products,
        issues

    from source

),

keyed as (

    select
        *,
        {{ pipelines.glamira_location_key('ip') }} as location_key,
        {{ pipelines.glamira_device_key('user_agent') }} as device_key,
        {{ pipelines.glamira_customer_key('user_id_db', 'email_address', 'device_id') }} as customer_key,
        {{ pipelines.glamira_customer_identity_kind('user_id_db', 'email_address', 'device_id') }} as customer_identity_kind,
        nullif({{ dbt.split_part('email_address', "'@'", 2) }}, '') as email_domain

    from cleaned

)

select * from keyed

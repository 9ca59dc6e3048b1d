with

source as (

    select * from {{ source('bahela', 'daily_summary') }}

),

renamed as (

    select
        day as date_day,
        site,
        sessions,
        transactions,
        unpaid_sessions,
        paid_unfinished_sessions,
        revenue_idr,
        discount_idr,
        discounted_transactions,
        total_duration_seconds,
        avg_duration_seconds,
        copies,
        retries,
        images,
        image_bytes,
        image_pixels,
        transactions_without_images

    from source

)

select * from renamed

with

source as (

    select * from {{ source('bahela', 'sessions') }}

),

renamed as (

    select
        {{ pipelines.surrogate_key(['site', 'session_code']) }} as session_key,
        day as date_day,
        site,
        session_code,
        mongo_id,
        status,
        page as last_page,
        app_started_at,
        started_at,
        ended_at,
        duration_seconds,
        lang as language,
        {{ adapter.quote("filter") }} as photo_filter,
        copies,
        retry_mode as is_retry_mode,
        retry_count,
        paid as is_paid,
        amount_idr,
        discount_idr,
        order_id as payment_order_id,
        payment_expires_at,
        captured_images,
        uploaded_images,
        doc_version,
        image_count as pipeline_image_count,
        image_bytes as pipeline_image_bytes,
        image_pixels as pipeline_image_pixels

    from source

)

select * from renamed

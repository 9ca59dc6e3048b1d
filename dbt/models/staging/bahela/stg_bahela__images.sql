{#
    An image belongs to its session of the same day (see stg_bahela__sessions). A size
    beyond max_bahela_value() (macros/bounds.sql) is no photo's: it reads as unknown
    (null), flagged by `size_is_supported`, so that no total of sizes can overflow.
#}
with

source as (

    select * from {{ source('bahela', 'images') }}

),

renamed as (

    select
        asset_id,
        {{ pipelines.surrogate_key(['site', 'session_code', 'day']) }} as session_key,
        day as date_day,
        site,
        session_code,
        image_number,
        public_id,
        asset_folder,
        filename,
        {{ adapter.quote("format") }} as image_format,
        {{ adapter.quote("version") }} as asset_version,
        resource_type,
        {{ adapter.quote("type") }} as delivery_type,
        created_at,
        case when bytes between 0 and {{ pipelines.max_bahela_value() }} then bytes end as image_bytes,
        width,
        height,
        aspect_ratio,
        case when pixels between 0 and {{ pipelines.max_bahela_value() }} then pixels end as image_pixels,
        coalesce(bytes between 0 and {{ pipelines.max_bahela_value() }}, true)
            and coalesce(pixels between 0 and {{ pipelines.max_bahela_value() }}, true) as size_is_supported,
        secure_url

    from source

)

select * from renamed

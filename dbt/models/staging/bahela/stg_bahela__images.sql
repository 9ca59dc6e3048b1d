with

source as (

    select * from {{ source('bahela', 'images') }}

),

renamed as (

    select
        asset_id,
        {{ pipelines.surrogate_key(['site', 'session_code']) }} as session_key,
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
        bytes as image_bytes,
        width,
        height,
        aspect_ratio,
        pixels as image_pixels,
        secure_url

    from source

)

select * from renamed

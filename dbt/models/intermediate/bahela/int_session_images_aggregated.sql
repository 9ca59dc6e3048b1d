{# The photos of each session, totalled: how many, their bytes and pixels. #}
with

images as (

    select * from {{ ref('stg_bahela__images') }}

),

aggregated as (

    select
        session_key,
        count(*) as image_count,
        cast(sum(image_bytes) as {{ dbt.type_bigint() }}) as image_bytes,
        cast(sum(image_pixels) as {{ dbt.type_bigint() }}) as image_pixels,
        min(created_at) as first_image_at,
        max(created_at) as last_image_at

    from images
    group by 1

)

select * from aggregated

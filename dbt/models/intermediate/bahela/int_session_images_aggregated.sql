{#
    The photos of each session, totalled: how many, their bytes and pixels. Sizes beyond
    the bound are null in staging (unknown), so the totals are of the known sizes and
    cannot overflow; `images_with_unsupported_size` says how many were left out.
#}
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
        sum(case when size_is_supported then 0 else 1 end) as images_with_unsupported_size,
        min(created_at) as first_image_at,
        max(created_at) as last_image_at

    from images
    group by 1

)

select * from aggregated

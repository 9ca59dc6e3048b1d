-- The image totals the pipeline attached to each session are those of its images. The
-- bytes and pixels of a session holding an image of unsupported size are not compared:
-- that size is null here (see stg_bahela__images, whose warn test counts it) while the
-- pipeline summed it.
with

sessions as (

    select * from {{ ref('stg_bahela__sessions') }}

),

session_images as (

    select * from {{ ref('int_session_images_aggregated') }}

)

select
    sessions.session_key,
    sessions.pipeline_image_count,
    session_images.image_count,
    sessions.pipeline_image_bytes,
    session_images.image_bytes

from sessions
left join session_images
    on sessions.session_key = session_images.session_key
where
    coalesce(sessions.pipeline_image_count, 0) <> coalesce(session_images.image_count, 0)
    or (
        coalesce(session_images.images_with_unsupported_size, 0) = 0
        and (
            coalesce(sessions.pipeline_image_bytes, 0) <> coalesce(session_images.image_bytes, 0)
            or coalesce(sessions.pipeline_image_pixels, 0) <> coalesce(session_images.image_pixels, 0)
        )
    )

{#
    Paid, finished photobooth sessions (status `completed`: the booth reached its Result
    page and the payment went through), each with its photos counted and weighed. A
    session whose raw values are odd (timestamps the pipeline could not read, an amount
    of 0 or beyond any booth's) is kept as it is; warn-severity tests count it.
#}
with

sessions as (

    select * from {{ ref('stg_bahela__sessions') }}
    where status = 'completed'

),

session_images as (

    select * from {{ ref('int_session_images_aggregated') }}

)

select
    sessions.session_key,
    sessions.date_day,
    sessions.site,
    sessions.session_code,
    sessions.started_at,
    sessions.ended_at,
    sessions.duration_seconds,
    sessions.amount_idr,
    sessions.discount_idr,
    sessions.copies,
    sessions.retry_count,
    sessions.photo_filter,
    sessions.language,
    sessions.payment_order_id,
    coalesce(session_images.image_count, 0) as image_count,
    coalesce(session_images.image_bytes, 0) as image_bytes,
    coalesce(session_images.image_pixels, 0) as image_pixels,
    sessions.issues

from sessions
left join session_images
    on sessions.session_key = session_images.session_key

{#
    A session is keyed by its booth, its code and its business day: the pipeline keeps
    a session on the day it started, and a code can sit on two days (its start moved
    between two extractions, or a booth reused a code); each day's row is what that
    day's summary counted.
    `issues` (what the pipeline found broken but kept, e.g. a paid session's unreadable
    timestamps) is read when the raw table has the column, null before it does.
#}
{%- set source_columns = adapter.get_columns_in_relation(source('bahela', 'sessions')) if execute else [] -%}
{%- set has_issues = 'issues' in (source_columns | map(attribute='name') | map('lower') | list) -%}

with

source as (

    select * from {{ source('bahela', 'sessions') }}

),

renamed as (

    select
        {{ pipelines.surrogate_key(['site', 'session_code', 'day']) }} as session_key,
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
        image_pixels as pipeline_image_pixels,
        {% if has_issues %}issues{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as issues

    from source

)

select * from renamed

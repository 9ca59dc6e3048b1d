{#
    One row per business day (Asia/Jakarta) and booth, days without sessions included:
    the daily summary the pipeline computed, with the ratios a dashboard shows.
    Reconciled with fct_sessions by tests/bahela/assert_daily_metrics_match_sessions.sql.
#}
with

daily_summary as (

    select * from {{ ref('stg_bahela__daily_summary') }}

)

select
    {{ pipelines.surrogate_key(['date_day', 'site']) }} as daily_metrics_key,
    date_day,
    site,
    sessions,
    transactions,
    unpaid_sessions,
    paid_unfinished_sessions,
    revenue_idr,
    discount_idr,
    discounted_transactions,
    copies,
    retries,
    images,
    image_bytes,
    image_pixels,
    transactions_without_images,
    total_duration_seconds,
    avg_duration_seconds,
    case when sessions > 0 then transactions / {{ pipelines.try_cast('sessions', pipelines.type_double()) }} end as conversion_rate,
    case when transactions > 0 then revenue_idr / {{ pipelines.try_cast('transactions', pipelines.type_double()) }} end as revenue_per_transaction_idr,
    case when transactions > 0 then images / {{ pipelines.try_cast('transactions', pipelines.type_double()) }} end as images_per_transaction

from daily_summary

-- The pipeline's daily summary and the sessions agree: transactions, revenue and images
-- of every day and booth are those of its fct_sessions rows. A day and booth holding an
-- amount beyond max_bahela_value() is left out: the pipeline's Int64 sum of it may have
-- wrapped, and a sum here could overflow; fct_sessions' warn test counts that session.
with

all_sessions as (

    select * from {{ ref('fct_sessions') }}

),

unsummable as (

    select distinct date_day, site
    from all_sessions
    where not (amount_idr between 0 and {{ pipelines.max_bahela_value() }})

),

daily_metrics as (

    select daily_metrics.*
    from {{ ref('fct_daily_metrics') }} as daily_metrics
    left join unsummable
        on daily_metrics.date_day = unsummable.date_day
        and daily_metrics.site = unsummable.site
    where unsummable.site is null

),

sessions as (

    select all_sessions.*
    from all_sessions
    left join unsummable
        on all_sessions.date_day = unsummable.date_day
        and all_sessions.site = unsummable.site
    where unsummable.site is null

),

from_sessions as (

    select
        date_day,
        site,
        count(*) as transactions,
        sum(amount_idr) as revenue_idr,
        sum(image_count) as images

    from sessions
    group by 1, 2

)

select
    coalesce(daily_metrics.date_day, from_sessions.date_day) as date_day,
    coalesce(daily_metrics.site, from_sessions.site) as site,
    daily_metrics.transactions,
    from_sessions.transactions as session_rows,
    daily_metrics.revenue_idr,
    from_sessions.revenue_idr as session_revenue_idr,
    daily_metrics.images,
    from_sessions.images as session_images

from daily_metrics
full outer join from_sessions
    on daily_metrics.date_day = from_sessions.date_day
    and daily_metrics.site = from_sessions.site
where
    coalesce(daily_metrics.transactions, 0) <> coalesce(from_sessions.transactions, 0)
    or coalesce(daily_metrics.revenue_idr, 0) <> coalesce(from_sessions.revenue_idr, 0)
    or coalesce(daily_metrics.images, 0) <> coalesce(from_sessions.images, 0)

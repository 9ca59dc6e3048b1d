{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        **pipelines.daily_incremental_config(cluster_by=['store_key', 'collection'])
    )
}}

with

events as (

    select * from {{ ref('stg_glamira__events') }}
    where {{ pipelines.incremental_days('date_day') }}

),

devices as (

    select * from {{ ref('stg_glamira__user_agents') }}

),

typed as (

    select
        events.date_day,
        events.store_id,
        coalesce(devices.device_type, 'unknown') as device_type,
        events.collection,
        events.device_id

    from events
    left join devices
        on events.device_key = devices.device_key

),

counted as (

    select
        date_day,
        store_id as store_key,
        device_type,
        collection,
        count(*) as events,
        count(distinct device_id) as devices

    from typed
    group by 1, 2, 3, 4

)

select
    {{ pipelines.surrogate_key(['date_day', 'store_key', 'device_type', 'collection']) }} as daily_events_key,
    date_day,
    store_key,
    device_type,
    collection,
    events,
    devices

from counted

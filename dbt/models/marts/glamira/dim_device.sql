with

user_agents as (

    select * from {{ ref('stg_glamira__user_agents') }}

)

select
    device_key,
    device_type,
    browser_family,
    browser_major,
    os_family,
    os_major,
    device_family,
    device_brand,
    device_model,
    user_agent,
    first_seen_day

from user_agents

with

source as (

    select * from {{ source('glamira', 'user_agents') }}
    -- a row without a user agent describes nothing: no event can join it (its key would be null)
    where user_agent is not null

),

ordered as (

    select
        *,
        row_number() over (partition by user_agent order by first_seen) as seen_order

    from source

),

first_parsed as (

    select
        {{ pipelines.glamira_device_key('user_agent') }} as device_key,
        user_agent,
        browser_family,
        browser_major,
        os_family,
        os_major,
        device_family,
        device_brand,
        device_model,
        device_type,
        first_seen as first_seen_day

    from ordered
    where seen_order = 1

)

select * from first_parsed

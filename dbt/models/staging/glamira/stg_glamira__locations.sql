with

source as (

    select * from {{ source('glamira', 'locations') }}
    -- a row without an address describes nothing: no event can join it (its key would be null)
    where ip is not null

),

{# IP2Location writes "-" where it has no value, and a message instead of a value for
   addresses it cannot look up: both are "unknown" here. #}
{% set unknown = "('-', '', 'INVALID IP ADDRESS', 'IPV6 ADDRESS MISSING IN IPV4 BIN')" %}

cleaned as (

    select
        ip,
        address,
        cast(version as {{ dbt.type_int() }}) as ip_version,
        kind as ip_kind,
        case when country_code not in {{ unknown }} then country_code end as country_code,
        case when country_name not in {{ unknown }} then country_name end as country_name,
        case when region not in {{ unknown }} then region end as region,
        case when city not in {{ unknown }} then city end as city,
        latitude,
        longitude,
        case when zip_code not in {{ unknown }} then zip_code end as zip_code,
        case when time_zone not in {{ unknown }} then time_zone end as time_zone,
        first_seen as first_seen_day,
        row_number() over (partition by ip order by first_seen, address) as seen_order

    from source

),

first_located as (

    select
        {{ pipelines.glamira_location_key('ip') }} as location_key,
        ip,
        address,
        ip_version,
        ip_kind,
        country_code,
        country_name,
        region,
        city,
        latitude,
        longitude,
        zip_code,
        time_zone,
        first_seen_day

    from cleaned
    where seen_order = 1

)

select * from first_located

{# No IP address leaves staging: the key is its hash. #}
with

locations as (

    select * from {{ ref('stg_glamira__locations') }}

)

select
    location_key,
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

from locations

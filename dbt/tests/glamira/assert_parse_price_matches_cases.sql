-- parse_price reads every format of the price_parse_cases seed as expected
-- (an empty expected amount: unsupported, so null).
with

cases as (

    select * from {{ ref('price_parse_cases') }}

),

parsed as (

    select
        price_text,
        expected_amount,
        {{ pipelines.parse_price('price_text') }} as parsed_amount,
        note

    from cases

)

select *
from parsed
where
    (expected_amount is null and parsed_amount is not null)
    or (expected_amount is not null and parsed_amount is null)
    or abs(parsed_amount - expected_amount) > 1e-9 * greatest(1, abs(expected_amount))

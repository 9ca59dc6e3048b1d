{#
    Each rate of the `exchange_rates` seed with the days it applies to: from its
    `rate_date` until the next rate of the same currency. The earliest rate of a currency
    also applies before its date, so that an old order is never left without a rate.
#}
with

exchange_rates as (

    select * from {{ ref('exchange_rates') }}

),

ranged as (

    select
        currency,
        rate_date,
        usd_per_unit,
        case
            when row_number() over (partition by currency order by rate_date) = 1
                then cast('1900-01-01' as date)
            else rate_date
        end as valid_from,
        coalesce(
            lead(rate_date) over (partition by currency order by rate_date),
            cast('9999-12-31' as date)
        ) as valid_until

    from exchange_rates

)

select * from ranged

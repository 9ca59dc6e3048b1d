{#
    The customers who placed at least one successful order, by the best identity their
    order carried (account id, else e-mail address, else device id). The e-mail address
    itself never reaches a mart: only its domain.
#}
with

checkouts as (

    select * from {{ ref('int_checkouts_deduplicated') }}
    where customer_key is not null

),

ordered as (

    select
        *,
        row_number() over (partition by customer_key order by time_stamp desc, event_id desc) as recency

    from checkouts

),

latest as (

    select * from ordered
    where recency = 1

),

totals as (

    select
        customer_key,
        count(*) as orders,
        min(event_at) as first_order_at,
        max(event_at) as last_order_at

    from checkouts
    group by 1

)

select
    latest.customer_key,
    latest.customer_identity_kind as identity_kind,
    latest.user_id_db as account_id,
    latest.email_domain,
    latest.store_id as last_store_key,
    totals.orders,
    totals.first_order_at,
    totals.last_order_at

from latest
inner join totals
    on latest.customer_key = totals.customer_key

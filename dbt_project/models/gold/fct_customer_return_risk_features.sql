{{ config(partition_by='snapshot_date', order_by='snapshot_date, customer_unique_id') }}
{#- One code path for a full refresh and a single snapshot: `snapshots` is every month
    start of the range, or only the `snapshot_date` var. Lifetime features come from the
    snapshot-independent change points (the row with change_bucket <= S < next bucket);
    windowed features touch each order in at most two snapshots. -#}
with

snapshots as (

    {{ snapshot_calendar(ref('int_orders_enriched')) }}

),

changes as (

    select * from {{ ref('int_customer_feature_changes') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

items as (

    select * from {{ ref('slv_order_items') }}

),

snapshot_states as (

    select
        changes.*,
        snapshots.snapshot_date
    from changes
    inner join snapshots
        on
            changes.change_bucket <= snapshots.snapshot_date
            and coalesce(changes.next_change_bucket, cast('9999-12-01' as date)) > snapshots.snapshot_date

),

-- an order purchased at p can be in the 30-day window of S only for
-- S = first month start after p, or the month start after that
purchase_candidates as (

    select
        orders.order_id,
        orders.customer_key,
        orders.order_purchased_at,
        orders.order_value,
        orders.customer_state,
        orders.purchase_bucket as snapshot_date
    from orders

    union all

    select
        orders.order_id,
        orders.customer_key,
        orders.order_purchased_at,
        orders.order_value,
        orders.customer_state,
        cast({{ dbt.dateadd('month', 1, 'orders.purchase_bucket') }} as date) as snapshot_date
    from orders

),

recent_orders as (

    select
        purchase_candidates.*,
        cast(purchase_candidates.snapshot_date as timestamp) as snapshot_at
    from purchase_candidates
    inner join snapshots
        on purchase_candidates.snapshot_date = snapshots.snapshot_date
    where
        purchase_candidates.order_purchased_at
        >= {{ dbt.dateadd('day', -30, 'cast(purchase_candidates.snapshot_date as timestamp)') }}

),

order_windows as (

    select
        recent_orders.customer_key,
        recent_orders.snapshot_date,
        count(*) as orders_last_30d,
        sum(case
            when recent_orders.order_purchased_at >= {{ dbt.dateadd('day', -7, 'recent_orders.snapshot_at') }} then 1 else 0
        end) as orders_last_7d,
        sum(case
            when recent_orders.order_purchased_at >= {{ dbt.dateadd('hour', -24, 'recent_orders.snapshot_at') }} then 1 else 0
        end) as orders_last_24h,
        {{ exact_sum('recent_orders.order_value') }} as total_spent_last_30d,
        count(distinct recent_orders.customer_state) as distinct_shipping_states_30d
    from recent_orders
    group by recent_orders.customer_key, recent_orders.snapshot_date

),

-- a 7-day window ending at a month start lies inside the previous month:
-- only S = the purchase bucket can see an order's items
seller_windows as (

    select
        orders.customer_key,
        orders.purchase_bucket as snapshot_date,
        count(distinct items.seller_id) as distinct_sellers_last_7d
    from orders
    inner join snapshots
        on orders.purchase_bucket = snapshots.snapshot_date
    inner join items
        on orders.order_id = items.order_id
    where
        orders.order_purchased_at
        >= {{ dbt.dateadd('day', -7, 'cast(orders.purchase_bucket as timestamp)') }}
    group by orders.customer_key, orders.purchase_bucket

),

cancellation_candidates as (

    select
        orders.customer_key,
        orders.order_purchased_at,
        orders.cancelled_after_approval_known_at,
        orders.cancelled_bucket as snapshot_date
    from orders
    where orders.cancelled_bucket is not null

    union all

    select
        orders.customer_key,
        orders.order_purchased_at,
        orders.cancelled_after_approval_known_at,
        cast({{ dbt.dateadd('month', 1, 'orders.cancelled_bucket') }} as date) as snapshot_date
    from orders
    where orders.cancelled_bucket is not null

),

cancellation_windows as (

    select
        cancellation_candidates.customer_key,
        cancellation_candidates.snapshot_date,
        count(*) as cancel_post_approval_count_30d
    from cancellation_candidates
    inner join snapshots
        on cancellation_candidates.snapshot_date = snapshots.snapshot_date
    where
        cancellation_candidates.cancelled_after_approval_known_at
        >= {{ dbt.dateadd('day', -30, 'cast(cancellation_candidates.snapshot_date as timestamp)') }}
        and cancellation_candidates.order_purchased_at < cast(cancellation_candidates.snapshot_date as timestamp)
    group by cancellation_candidates.customer_key, cancellation_candidates.snapshot_date

),

final as (

    select
        snapshot_states.customer_unique_id,
        snapshot_states.snapshot_date,
        snapshot_states.customer_state,
        cast({{ dbt.datediff('cast(snapshot_states.first_purchased_at as date)', 'snapshot_states.snapshot_date', 'day') }} as integer)  -- noqa: LT05
            as days_since_first_order,
        cast({{ dbt.datediff('cast(snapshot_states.last_purchased_at as date)', 'snapshot_states.snapshot_date', 'day') }} as integer)  -- noqa: LT05
            as days_since_last_order,
        snapshot_states.total_orders as total_orders_lifetime,
        cast(coalesce(order_windows.orders_last_30d, 0) as integer) as orders_last_30d,
        cast(coalesce(order_windows.orders_last_7d, 0) as integer) as orders_last_7d,
        cast(coalesce(order_windows.orders_last_24h, 0) as integer) as orders_last_24h,
        cast(coalesce(seller_windows.distinct_sellers_last_7d, 0) as integer) as distinct_sellers_last_7d,
        cast(coalesce(order_windows.total_spent_last_30d, 0.0) as double) as total_spent_last_30d,
        cast(snapshot_states.cancelled_orders as double) / snapshot_states.total_orders as cancel_rate_lifetime,
        cast(coalesce(cancellation_windows.cancel_post_approval_count_30d, 0) as integer)
            as cancel_post_approval_count_30d,
        cast(snapshot_states.review_score_sum as double) / nullif(snapshot_states.reviewed_orders, 0)
            as avg_review_score,
        cast(snapshot_states.low_review_delivered_orders as double) / nullif(snapshot_states.delivered_orders, 0)
            as low_review_on_delivered_rate,
        cast(snapshot_states.no_review_delivered_orders as double) / nullif(snapshot_states.delivered_orders, 0)
            as no_review_rate,
        snapshot_states.distance_km_sum / nullif(snapshot_states.distance_orders, 0)
            as avg_customer_seller_distance_km,
        cast(coalesce(order_windows.distinct_shipping_states_30d, 0) as integer) as distinct_shipping_states_30d,
        cast(snapshot_states.max_velocity_kmh as double) as max_geographic_velocity_kmh,
        snapshot_states.credit_card_value_total / nullif(snapshot_states.payment_value_total, 0.0)
            as credit_card_payment_share,
        cast(snapshot_states.max_installments as integer) as max_installments_lifetime,
        snapshot_states.risk_weighted_value_total / nullif(snapshot_states.payment_value_total, 0.0)
            as payment_method_risk_avg,
        snapshot_states.category_prior_sum / nullif(snapshot_states.item_rows, 0)
            as category_risk_prior_avg
    from snapshot_states
    left join order_windows
        on
            snapshot_states.customer_key = order_windows.customer_key
            and snapshot_states.snapshot_date = order_windows.snapshot_date
    left join seller_windows
        on
            snapshot_states.customer_key = seller_windows.customer_key
            and snapshot_states.snapshot_date = seller_windows.snapshot_date
    left join cancellation_windows
        on
            snapshot_states.customer_key = cancellation_windows.customer_key
            and snapshot_states.snapshot_date = cancellation_windows.snapshot_date

)

select * from final

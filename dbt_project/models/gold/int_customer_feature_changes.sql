{#- Snapshot-independent: every fact lands in its snapshot bucket (the first month start
    strictly after its known_at, never before its order's purchase bucket), lifetime
    features are accumulated over a customer's buckets, and one row per
    (customer, bucket where something changed) holds the cumulative state that every
    snapshot S with bucket <= S < next_change_bucket sees. Each source of facts (purchases,
    cancellations, deliveries and reviews) yields the deltas it changes, per bucket. -#}
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

reviews as (

    select * from {{ ref('slv_order_reviews') }}

),

ordered_orders as (

    select
        orders.*,
        lag(orders.customer_lat) over customer_timeline as previous_customer_lat,
        lag(orders.customer_lng) over customer_timeline as previous_customer_lng,
        lag(orders.order_purchased_at) over customer_timeline as previous_order_purchased_at,
        row_number() over (
            partition by orders.customer_key, orders.purchase_bucket
            order by orders.order_purchased_at desc, orders.order_id desc
        ) as recency_in_bucket
    from orders
    window customer_timeline as (
        partition by orders.customer_key
        order by orders.order_purchased_at asc, orders.order_id asc
    )

),

order_facts as (

    -- known at purchase: the order, its payments, items, distance, address and the
    -- velocity of the pair (previous order, this order)
    select
        ordered_orders.customer_key,
        ordered_orders.customer_unique_id,
        ordered_orders.purchase_bucket as change_bucket,
        1 as orders_delta,
        ordered_orders.order_value as payment_value_delta,
        ordered_orders.credit_card_payment_value as credit_card_value_delta,
        ordered_orders.risk_weighted_payment_value as risk_weighted_value_delta,
        ordered_orders.max_payment_installments as max_installments,
        ordered_orders.item_count as items_delta,
        ordered_orders.category_fraud_prior_sum as category_prior_delta,
        coalesce(ordered_orders.customer_seller_distance_km, 0.0) as distance_km_delta,
        case when ordered_orders.customer_seller_distance_km is not null then 1 else 0 end as distance_orders_delta,
        {{ haversine_km(
            'ordered_orders.previous_customer_lat', 'ordered_orders.previous_customer_lng',
            'ordered_orders.customer_lat', 'ordered_orders.customer_lng'
        ) }} / greatest(
            {{ dbt.datediff(
                'ordered_orders.previous_order_purchased_at', 'ordered_orders.order_purchased_at', 'second'
            ) }} / 3600.0,  -- noqa: LT05
            1.0
        ) as max_velocity_kmh,
        ordered_orders.order_purchased_at as first_purchased_at,
        ordered_orders.order_purchased_at as last_purchased_at,
        1 as has_orders,
        case when ordered_orders.recency_in_bucket = 1 then ordered_orders.customer_state end as latest_customer_state
    from ordered_orders

),

cancellation_facts as (

    select
        orders.customer_key,
        greatest(orders.cancelled_bucket, orders.purchase_bucket) as change_bucket,
        1 as cancelled_delta
    from orders
    where
        orders.is_cancelled_after_approval
        and orders.cancelled_bucket is not null

),

review_points as (

    -- the visible score of an order from each bucket in which a review becomes visible:
    -- the last review (answer time, review_id) landing in that bucket
    select
        orders.customer_key,
        orders.order_id,
        greatest({{ snapshot_bucket('reviews.review_answered_at') }}, orders.purchase_bucket) as change_bucket,
        reviews.review_score,
        reviews.review_sequence_in_order
    from reviews
    inner join orders
        on reviews.order_id = orders.order_id

),

last_sequence_per_bucket as (

    select
        review_points.order_id,
        review_points.change_bucket,
        max(review_points.review_sequence_in_order) as last_sequence
    from review_points
    group by review_points.order_id, review_points.change_bucket

),

last_review_per_bucket as (

    select
        review_points.customer_key,
        review_points.order_id,
        review_points.change_bucket,
        review_points.review_score
    from review_points
    inner join last_sequence_per_bucket
        on
            review_points.order_id = last_sequence_per_bucket.order_id
            and review_points.change_bucket = last_sequence_per_bucket.change_bucket
            and review_points.review_sequence_in_order = last_sequence_per_bucket.last_sequence

),

order_change_points as (

    select
        grouped.customer_key,
        grouped.order_id,
        grouped.change_bucket,
        max(grouped.review_score) as review_score
    from (
        select
            last_review_per_bucket.customer_key,
            last_review_per_bucket.order_id,
            last_review_per_bucket.change_bucket,
            last_review_per_bucket.review_score
        from last_review_per_bucket

        union all

        select
            orders.customer_key,
            orders.order_id,
            greatest(orders.delivered_bucket, orders.purchase_bucket) as change_bucket,
            cast(null as integer) as review_score
        from orders
        where orders.delivered_bucket is not null
    ) as grouped
    group by grouped.customer_key, grouped.order_id, grouped.change_bucket

),

order_states as (

    select
        order_change_points.customer_key,
        order_change_points.order_id,
        order_change_points.change_bucket,
        order_change_points.review_score,
        count(order_change_points.review_score) over order_timeline as visible_review_group,
        -- greatest() skips NULLs: an order never delivered must stay not delivered
        coalesce(
            orders.delivered_bucket is not null
            and greatest(orders.delivered_bucket, orders.purchase_bucket) <= order_change_points.change_bucket,
            false
        ) as is_delivered
    from order_change_points
    inner join orders
        on order_change_points.order_id = orders.order_id
    window order_timeline as (
        partition by order_change_points.order_id
        order by order_change_points.change_bucket asc
        rows between unbounded preceding and current row
    )

),

order_visible_states as (

    select
        order_states.customer_key,
        order_states.order_id,
        order_states.change_bucket,
        case when order_states.visible_review_group > 0 then 1 else 0 end as has_visible_review,
        -- the score of the last review point at or before this bucket
        max(order_states.review_score) over (
            partition by order_states.order_id, order_states.visible_review_group
        ) as visible_score,
        case when order_states.is_delivered then 1 else 0 end as is_delivered
    from order_states

),

order_indicators as (

    select
        order_visible_states.customer_key,
        order_visible_states.order_id,
        order_visible_states.change_bucket,
        order_visible_states.has_visible_review,
        coalesce(order_visible_states.visible_score, 0) as visible_score,
        order_visible_states.is_delivered,
        case
            when order_visible_states.is_delivered = 1 and order_visible_states.visible_score <= 2 then 1 else 0
        end as is_low_review_delivered,
        case
            when order_visible_states.is_delivered = 1 and order_visible_states.has_visible_review = 0 then 1 else 0
        end as is_no_review_delivered
    from order_visible_states

),

order_indicator_deltas as (

    select
        order_indicators.customer_key,
        order_indicators.change_bucket,
        order_indicators.is_delivered
        - coalesce(lag(order_indicators.is_delivered) over order_timeline, 0) as delivered_delta,
        order_indicators.has_visible_review
        - coalesce(lag(order_indicators.has_visible_review) over order_timeline, 0) as reviewed_delta,
        order_indicators.visible_score
        - coalesce(lag(order_indicators.visible_score) over order_timeline, 0) as review_score_delta,
        order_indicators.is_low_review_delivered
        - coalesce(lag(order_indicators.is_low_review_delivered) over order_timeline, 0) as low_review_delivered_delta,
        order_indicators.is_no_review_delivered
        - coalesce(lag(order_indicators.is_no_review_delivered) over order_timeline, 0) as no_review_delivered_delta
    from order_indicators
    window order_timeline as (
        partition by order_indicators.order_id
        order by order_indicators.change_bucket asc
    )

),

all_deltas as (

    -- each source has its own columns; `by name` leaves the others NULL, which the
    -- aggregates below skip
    select * from order_facts
    union all by name
    select * from cancellation_facts
    union all by name
    select * from order_indicator_deltas

),

bucket_deltas as (

    select
        all_deltas.customer_key,
        max(all_deltas.customer_unique_id) as customer_unique_id,
        all_deltas.change_bucket,
        sum(all_deltas.orders_delta) as orders_delta,
        coalesce(sum(all_deltas.cancelled_delta), 0) as cancelled_delta,
        coalesce(sum(all_deltas.delivered_delta), 0) as delivered_delta,
        coalesce(sum(all_deltas.reviewed_delta), 0) as reviewed_delta,
        coalesce(sum(all_deltas.review_score_delta), 0) as review_score_delta,
        coalesce(sum(all_deltas.low_review_delivered_delta), 0) as low_review_delivered_delta,
        coalesce(sum(all_deltas.no_review_delivered_delta), 0) as no_review_delivered_delta,
        {{ exact_sum('all_deltas.payment_value_delta') }} as payment_value_delta,
        {{ exact_sum('all_deltas.credit_card_value_delta') }} as credit_card_value_delta,
        {{ exact_sum('all_deltas.risk_weighted_value_delta') }} as risk_weighted_value_delta,
        max(all_deltas.max_installments) as max_installments,
        sum(all_deltas.items_delta) as items_delta,
        {{ exact_sum('all_deltas.category_prior_delta') }} as category_prior_delta,
        {{ exact_sum('all_deltas.distance_km_delta') }} as distance_km_delta,
        sum(all_deltas.distance_orders_delta) as distance_orders_delta,
        max(all_deltas.max_velocity_kmh) as max_velocity_kmh,
        min(all_deltas.first_purchased_at) as first_purchased_at,
        max(all_deltas.last_purchased_at) as last_purchased_at,
        max(all_deltas.has_orders) as has_orders,
        max(all_deltas.latest_customer_state) as latest_customer_state
    from all_deltas
    group by all_deltas.customer_key, all_deltas.change_bucket

),

cumulative as (

    select
        bucket_deltas.customer_key,
        -- only buckets with orders carry the id: spread it over the customer's rows
        max(bucket_deltas.customer_unique_id) over customer_all as customer_unique_id,
        bucket_deltas.change_bucket,
        lead(bucket_deltas.change_bucket) over customer_buckets as next_change_bucket,
        sum(bucket_deltas.orders_delta) over running as total_orders,
        sum(bucket_deltas.cancelled_delta) over running as cancelled_orders,
        sum(bucket_deltas.delivered_delta) over running as delivered_orders,
        sum(bucket_deltas.reviewed_delta) over running as reviewed_orders,
        sum(bucket_deltas.review_score_delta) over running as review_score_sum,
        sum(bucket_deltas.low_review_delivered_delta) over running as low_review_delivered_orders,
        sum(bucket_deltas.no_review_delivered_delta) over running as no_review_delivered_orders,
        {{ exact_sum('bucket_deltas.payment_value_delta', over='running') }} as payment_value_total,
        {{ exact_sum('bucket_deltas.credit_card_value_delta', over='running') }} as credit_card_value_total,
        {{ exact_sum('bucket_deltas.risk_weighted_value_delta', over='running') }} as risk_weighted_value_total,
        max(bucket_deltas.max_installments) over running as max_installments,
        sum(bucket_deltas.items_delta) over running as item_rows,
        {{ exact_sum('bucket_deltas.category_prior_delta', over='running') }} as category_prior_sum,
        {{ exact_sum('bucket_deltas.distance_km_delta', over='running') }} as distance_km_sum,
        sum(bucket_deltas.distance_orders_delta) over running as distance_orders,
        max(bucket_deltas.max_velocity_kmh) over running as max_velocity_kmh,
        min(bucket_deltas.first_purchased_at) over running as first_purchased_at,
        max(bucket_deltas.last_purchased_at) over running as last_purchased_at,
        sum(bucket_deltas.has_orders) over running as order_bucket_group,
        bucket_deltas.has_orders,
        bucket_deltas.latest_customer_state
    from bucket_deltas
    window
        customer_all as (
            partition by bucket_deltas.customer_key
        ),
        customer_buckets as (
            partition by bucket_deltas.customer_key
            order by bucket_deltas.change_bucket asc
        ),
        running as (
            partition by bucket_deltas.customer_key
            order by bucket_deltas.change_bucket asc
            rows between unbounded preceding and current row
        )

),

final as (

    select
        cumulative.customer_key,
        cumulative.customer_unique_id,
        cumulative.change_bucket,
        cumulative.next_change_bucket,
        -- the latest order is in the latest bucket with orders: carry its state forward
        -- (a NULL state stays NULL, no fall-back to an older order)
        max(case when cumulative.has_orders = 1 then cumulative.latest_customer_state end) over (
            partition by cumulative.customer_key, cumulative.order_bucket_group
        ) as customer_state,
        cumulative.first_purchased_at,
        cumulative.last_purchased_at,
        cast(cumulative.total_orders as integer) as total_orders,
        cast(cumulative.cancelled_orders as integer) as cancelled_orders,
        cast(cumulative.delivered_orders as integer) as delivered_orders,
        cast(cumulative.reviewed_orders as integer) as reviewed_orders,
        cast(cumulative.review_score_sum as integer) as review_score_sum,
        cast(cumulative.low_review_delivered_orders as integer) as low_review_delivered_orders,
        cast(cumulative.no_review_delivered_orders as integer) as no_review_delivered_orders,
        cumulative.payment_value_total,
        cumulative.credit_card_value_total,
        cumulative.risk_weighted_value_total,
        cumulative.max_installments,
        cast(cumulative.item_rows as integer) as item_rows,
        cumulative.category_prior_sum,
        cumulative.distance_km_sum,
        cast(cumulative.distance_orders as integer) as distance_orders,
        cumulative.max_velocity_kmh
    from cumulative

)

select * from final

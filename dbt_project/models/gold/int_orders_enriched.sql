with

orders as (

    select * from {{ ref('slv_orders') }}

),

customer_id_map as (

    select * from {{ ref('slv_customer_id_map') }}

),

zip_centroids as (

    select * from {{ ref('slv_zip_centroids') }}

),

items as (

    select * from {{ ref('slv_order_items') }}

),

payments as (

    select * from {{ ref('slv_order_payments') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

sellers as (

    select * from {{ ref('slv_sellers') }}

),

payment_method_risk as (

    select * from {{ ref('payment_method_risk') }}

),

category_risk_priors as (

    select * from {{ ref('category_risk_priors') }}

),

included_orders as (

    select * from orders
    where is_included

),

default_payment_risk as (

    select payment_method_risk.base_risk_score
    from payment_method_risk
    where payment_method_risk.payment_type = 'not_defined'

),

default_category_prior as (

    select category_risk_priors.fraud_prior
    from category_risk_priors
    where category_risk_priors.product_category_name_english = '__default__'

),

order_payments as (

    select
        payments.order_id,
        count(*) as payment_count,
        coalesce({{ exact_sum('payments.payment_value') }}, 0.0) as payment_value_total,
        coalesce(
            {{ exact_sum("case when payments.payment_type = 'credit_card' then payments.payment_value end") }},
            0.0
        ) as credit_card_payment_value,
        coalesce({{ exact_sum(
            'payments.payment_value * coalesce(payment_method_risk.base_risk_score, '
            ~ '(select default_payment_risk.base_risk_score from default_payment_risk))'
        ) }}, 0.0) as risk_weighted_payment_value,
        max(payments.payment_installments) as max_payment_installments
    from payments
    left join payment_method_risk
        on payments.payment_type = payment_method_risk.payment_type
    group by payments.order_id

),

ranked_items as (

    select
        items.order_id,
        items.seller_id,
        coalesce(category_risk_priors.fraud_prior, (select default_category_prior.fraud_prior from default_category_prior))
            as category_fraud_prior,
        row_number() over (partition by items.order_id order by items.order_item_id asc) as item_rank
    from items
    left join products
        on items.product_id = products.product_id
    left join category_risk_priors
        on products.product_category_name_english = category_risk_priors.product_category_name_english

),

order_items as (

    select
        ranked_items.order_id,
        count(*) as item_count,
        {{ exact_sum('ranked_items.category_fraud_prior') }} as category_fraud_prior_sum,
        max(case when ranked_items.item_rank = 1 then ranked_items.seller_id end) as primary_seller_id
    from ranked_items
    group by ranked_items.order_id

),

joined as (

    select
        included_orders.order_id,
        included_orders.customer_unique_id,
        included_orders.order_purchased_at,
        customer_id_map.customer_zip_code_prefix,
        customer_id_map.customer_state,
        customer_zip.centroid_lat as customer_lat,
        customer_zip.centroid_lng as customer_lng,
        order_items.primary_seller_id,
        sellers.seller_lat,
        sellers.seller_lng,
        coalesce(order_payments.payment_count, 0) as payment_count,
        coalesce(order_payments.payment_value_total, 0.0) as order_value,
        coalesce(order_payments.credit_card_payment_value, 0.0) as credit_card_payment_value,
        coalesce(order_payments.risk_weighted_payment_value, 0.0) as risk_weighted_payment_value,
        order_payments.max_payment_installments,
        coalesce(order_items.item_count, 0) as item_count,
        coalesce(order_items.category_fraud_prior_sum, 0.0) as category_fraud_prior_sum,
        included_orders.delivered_known_at,
        included_orders.is_cancelled_after_approval,
        included_orders.cancelled_after_approval_known_at
    from included_orders
    inner join customer_id_map
        on included_orders.customer_id = customer_id_map.customer_id
    left join zip_centroids as customer_zip
        on customer_id_map.customer_zip_code_prefix = customer_zip.zip_code_prefix
    left join order_payments
        on included_orders.order_id = order_payments.order_id
    left join order_items
        on included_orders.order_id = order_items.order_id
    left join sellers
        on order_items.primary_seller_id = sellers.seller_id

),

final as (

    select
        joined.order_id,
        joined.customer_unique_id,
        -- a dense integer surrogate of customer_unique_id, for cheap joins and windows
        -- downstream (internal only: never compare it across builds)
        dense_rank() over (order by joined.customer_unique_id) as customer_key,
        joined.order_purchased_at,
        {{ snapshot_bucket('joined.order_purchased_at') }} as purchase_bucket,
        joined.customer_zip_code_prefix,
        joined.customer_state,
        joined.customer_lat,
        joined.customer_lng,
        joined.primary_seller_id,
        {{ haversine_km('joined.customer_lat', 'joined.customer_lng', 'joined.seller_lat', 'joined.seller_lng') }}
            as customer_seller_distance_km,
        joined.payment_count,
        joined.order_value,
        joined.credit_card_payment_value,
        joined.risk_weighted_payment_value,
        joined.max_payment_installments,
        joined.item_count,
        joined.category_fraud_prior_sum,
        joined.delivered_known_at,
        {{ snapshot_bucket('joined.delivered_known_at') }} as delivered_bucket,
        joined.is_cancelled_after_approval,
        joined.cancelled_after_approval_known_at,
        {{ snapshot_bucket('joined.cancelled_after_approval_known_at') }} as cancelled_bucket
    from joined

)

select * from final

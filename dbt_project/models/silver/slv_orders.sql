with

orders as (

    select * from {{ ref('stg_orders') }}

),

customer_id_map as (

    select * from {{ ref('slv_customer_id_map') }}

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        customer_id_map.customer_unique_id,
        orders.order_status,
        orders.order_purchase_timestamp as order_purchased_at,
        orders.order_approved_at,
        orders.order_delivered_carrier_date as order_delivered_carrier_at,
        orders.order_delivered_customer_date as order_delivered_customer_at,
        orders.order_estimated_delivery_date as order_estimated_delivery_at
    from orders
    left join customer_id_map
        on orders.customer_id = customer_id_map.customer_id
    where orders.order_id is not null

),

final as (

    select
        joined.*,
        coalesce(
            joined.customer_unique_id is not null
            and joined.order_purchased_at is not null,
            false
        ) as is_included,
        case
            when joined.order_status = 'delivered'
                then joined.order_delivered_customer_at
        end as delivered_known_at,
        coalesce(
            joined.order_status = 'canceled' and joined.order_approved_at is not null,
            false
        ) as is_cancelled_after_approval,
        case
            when joined.order_status = 'canceled' and joined.order_approved_at is not null
                then joined.order_estimated_delivery_at
        end as cancelled_after_approval_known_at
    from joined

)

select * from final

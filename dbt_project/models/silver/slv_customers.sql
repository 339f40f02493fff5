with

orders as (

    select * from {{ ref('slv_orders') }}

),

customer_id_map as (

    select * from {{ ref('slv_customer_id_map') }}

),

customer_ids as (

    select
        customer_id_map.customer_unique_id,
        count(*) as customer_id_count
    from customer_id_map
    group by customer_id_map.customer_unique_id

),

included_orders as (

    select
        orders.customer_unique_id,
        count(*) as included_order_count,
        min(orders.order_purchased_at) as first_purchased_at,
        max(orders.order_purchased_at) as last_purchased_at
    from orders
    where orders.is_included
    group by orders.customer_unique_id

),

final as (

    select
        customer_ids.customer_unique_id,
        customer_ids.customer_id_count,
        coalesce(included_orders.included_order_count, 0) as included_order_count,
        included_orders.first_purchased_at,
        included_orders.last_purchased_at
    from customer_ids
    left join included_orders
        on customer_ids.customer_unique_id = included_orders.customer_unique_id

)

select * from final

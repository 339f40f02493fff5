with

items as (

    select * from {{ ref('stg_order_items') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

final as (

    select
        items.order_id,
        items.order_item_id,
        items.product_id,
        items.seller_id,
        items.shipping_limit_date as shipping_limit_at,
        items.price,
        items.freight_value
    from items
    inner join orders
        on items.order_id = orders.order_id
    where orders.is_included

)

select * from final

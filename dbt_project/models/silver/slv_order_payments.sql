with

payments as (

    select * from {{ ref('stg_order_payments') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

final as (

    select
        payments.order_id,
        payments.payment_sequential,
        coalesce(payments.payment_type, 'not_defined') as payment_type,
        payments.payment_installments,
        payments.payment_value
    from payments
    inner join orders
        on payments.order_id = orders.order_id
    where orders.is_included

)

select * from final

with

customers as (

    select * from {{ ref('stg_customers') }}

),

final as (

    select
        customers.customer_id,
        customers.customer_unique_id,
        customers.customer_zip_code_prefix,
        customers.customer_city,
        customers.customer_state
    from customers
    where
        customers.customer_id is not null
        and customers.customer_unique_id is not null

)

select * from final

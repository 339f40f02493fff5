with

source as (

    select * from {{ source('olist_raw', 'orders') }}

),

renamed as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('order_status') }} as order_status,
        cast({{ clean_text('order_purchase_timestamp') }} as timestamp) as order_purchase_timestamp,
        cast({{ clean_text('order_approved_at') }} as timestamp) as order_approved_at,
        cast({{ clean_text('order_delivered_carrier_date') }} as timestamp) as order_delivered_carrier_date,
        cast({{ clean_text('order_delivered_customer_date') }} as timestamp) as order_delivered_customer_date,
        cast({{ clean_text('order_estimated_delivery_date') }} as timestamp) as order_estimated_delivery_date
    from source

),

final as (

    select * from renamed

)

select * from final

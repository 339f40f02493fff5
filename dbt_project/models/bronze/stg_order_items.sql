with

source as (

    select * from {{ source('olist_raw', 'order_items') }}

),

renamed as (

    select
        {{ clean_text('order_id') }} as order_id,
        cast({{ clean_text('order_item_id') }} as integer) as order_item_id,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('seller_id') }} as seller_id,
        cast({{ clean_text('shipping_limit_date') }} as timestamp) as shipping_limit_date,
        cast({{ clean_text('price') }} as double) as price,
        cast({{ clean_text('freight_value') }} as double) as freight_value
    from source

),

final as (

    select * from renamed

)

select * from final

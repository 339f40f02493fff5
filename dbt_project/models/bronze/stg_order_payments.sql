with

source as (

    select * from {{ source('olist_raw', 'order_payments') }}

),

renamed as (

    select
        {{ clean_text('order_id') }} as order_id,
        cast({{ clean_text('payment_sequential') }} as integer) as payment_sequential,
        {{ clean_text('payment_type') }} as payment_type,
        cast({{ clean_text('payment_installments') }} as integer) as payment_installments,
        cast({{ clean_text('payment_value') }} as double) as payment_value
    from source

),

final as (

    select * from renamed

)

select * from final

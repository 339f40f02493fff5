with

source as (

    select * from {{ source('olist_raw', 'customers') }}

),

renamed as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('customer_unique_id') }} as customer_unique_id,
        {{ clean_zip_prefix('customer_zip_code_prefix') }} as customer_zip_code_prefix,
        {{ clean_text('customer_city') }} as customer_city,
        {{ clean_text('customer_state') }} as customer_state
    from source

),

final as (

    select * from renamed

)

select * from final

with

source as (

    select * from {{ source('olist_raw', 'sellers') }}

),

renamed as (

    select
        {{ clean_text('seller_id') }} as seller_id,
        {{ clean_zip_prefix('seller_zip_code_prefix') }} as seller_zip_code_prefix,
        {{ clean_text('seller_city') }} as seller_city,
        {{ clean_text('seller_state') }} as seller_state
    from source

),

final as (

    select * from renamed

)

select * from final

with

source as (

    select * from {{ source('olist_raw', 'product_category_name_translation') }}

),

renamed as (

    select
        {{ clean_text('product_category_name') }} as product_category_name,
        {{ clean_text('product_category_name_english') }} as product_category_name_english
    from source

),

final as (

    select * from renamed

)

select * from final

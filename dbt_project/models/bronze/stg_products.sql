with

source as (

    select * from {{ source('olist_raw', 'products') }}

),

renamed as (

    select
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('product_category_name') }} as product_category_name,
        cast({{ clean_text('product_name_lenght') }} as integer) as product_name_length,
        cast({{ clean_text('product_description_lenght') }} as integer) as product_description_length,
        cast({{ clean_text('product_photos_qty') }} as integer) as product_photos_qty,
        cast({{ clean_text('product_weight_g') }} as integer) as product_weight_g,
        cast({{ clean_text('product_length_cm') }} as integer) as product_length_cm,
        cast({{ clean_text('product_height_cm') }} as integer) as product_height_cm,
        cast({{ clean_text('product_width_cm') }} as integer) as product_width_cm
    from source

),

final as (

    select * from renamed

)

select * from final

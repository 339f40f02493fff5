with

products as (

    select * from {{ ref('stg_products') }}

),

translations as (

    select * from {{ ref('stg_product_category_name_translation') }}

),

final as (

    select
        products.product_id,
        products.product_category_name,
        translations.product_category_name_english
    from products
    left join translations
        on products.product_category_name = translations.product_category_name

)

select * from final

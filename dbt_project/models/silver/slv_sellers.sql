with

sellers as (

    select * from {{ ref('stg_sellers') }}

),

zip_centroids as (

    select * from {{ ref('slv_zip_centroids') }}

),

final as (

    select
        sellers.seller_id,
        sellers.seller_zip_code_prefix,
        sellers.seller_city,
        sellers.seller_state,
        zip_centroids.centroid_lat as seller_lat,
        zip_centroids.centroid_lng as seller_lng
    from sellers
    left join zip_centroids
        on sellers.seller_zip_code_prefix = zip_centroids.zip_code_prefix

)

select * from final

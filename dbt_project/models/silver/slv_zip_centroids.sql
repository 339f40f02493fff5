with

geolocation as (

    select * from {{ ref('stg_geolocation') }}

),

in_brazil as (

    select
        geolocation.geolocation_zip_code_prefix as zip_code_prefix,
        geolocation.geolocation_lat as lat,
        geolocation.geolocation_lng as lng
    from geolocation
    where
        geolocation.geolocation_zip_code_prefix is not null
        and geolocation.geolocation_lat between -33.75 and 5.27
        and geolocation.geolocation_lng between -73.99 and -34.79

),

final as (

    select
        in_brazil.zip_code_prefix,
        {{ exact_avg('in_brazil.lat') }} as centroid_lat,
        {{ exact_avg('in_brazil.lng') }} as centroid_lng,
        count(*) as geolocation_row_count
    from in_brazil
    group by in_brazil.zip_code_prefix

)

select * from final

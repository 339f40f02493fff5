with

source as (

    select * from {{ source('olist_raw', 'geolocation') }}

),

renamed as (

    select
        {{ clean_zip_prefix('geolocation_zip_code_prefix') }} as geolocation_zip_code_prefix,
        cast({{ clean_text('geolocation_lat') }} as double) as geolocation_lat,
        cast({{ clean_text('geolocation_lng') }} as double) as geolocation_lng,
        {{ clean_text('geolocation_city') }} as geolocation_city,
        {{ clean_text('geolocation_state') }} as geolocation_state
    from source

),

final as (

    select * from renamed

)

select * from final

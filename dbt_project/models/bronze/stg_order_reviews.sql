with

source as (

    select * from {{ source('olist_raw', 'order_reviews') }}

),

renamed as (

    select
        {{ clean_text('review_id') }} as review_id,
        {{ clean_text('order_id') }} as order_id,
        cast({{ clean_text('review_score') }} as integer) as review_score,
        {{ clean_text('review_comment_title') }} as review_comment_title,
        {{ clean_text('review_comment_message') }} as review_comment_message,
        cast({{ clean_text('review_creation_date') }} as timestamp) as review_creation_date,
        cast({{ clean_text('review_answer_timestamp') }} as timestamp) as review_answer_timestamp
    from source

),

final as (

    select * from renamed

)

select * from final

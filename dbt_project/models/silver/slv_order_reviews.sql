with

reviews as (

    select * from {{ ref('stg_order_reviews') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

usable as (

    select
        reviews.review_id,
        reviews.order_id,
        reviews.review_score,
        reviews.review_creation_date as review_created_at,
        reviews.review_answer_timestamp as review_answered_at
    from reviews
    inner join orders
        on reviews.order_id = orders.order_id
    where
        orders.is_included
        and reviews.review_answer_timestamp is not null
        and reviews.review_score is not null

),

final as (

    select
        usable.*,
        row_number() over (
            partition by usable.order_id
            order by
                usable.review_answered_at asc,
                usable.review_id asc,
                usable.review_score asc,
                usable.review_created_at asc
        ) as review_sequence_in_order
    from usable

)

select * from final

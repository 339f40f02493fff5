{{ config(partition_by='snapshot_date', order_by='snapshot_date, customer_unique_id') }}
{%- set features = [
    'cancel_rate_lifetime',
    'low_review_on_delivered_rate',
    'max_geographic_velocity_kmh',
    'distinct_sellers_last_7d',
    'orders_last_24h',
    'payment_method_risk_avg',
    'category_risk_prior_avg',
] -%}
{%- set snapshot_date = olist_snapshot_date() -%}
with

features as (

    select * from {{ ref('fct_customer_return_risk_features') }}
    {%- if snapshot_date != '' %}
    where snapshot_date = cast('{{ snapshot_date }}' as date)
    {%- endif %}

),

weights as (

    select * from {{ ref('risk_score_weights') }}

),

thresholds as (

    select * from {{ ref('risk_thresholds') }}

),

weight_row as (

    -- one row: the weight and cap of every feature, as columns
    select
        {% for feature in features %}
            coalesce(max(case when weights.feature_name = '{{ feature }}' then weights.weight end), 0.0) as {{ feature }}__weight,
            max(case when weights.feature_name = '{{ feature }}' then weights.cap end) as {{ feature }}__cap,
        {% endfor %}
        count(*) as weight_rows
    from weights

),

scored as (

    select
        features.customer_unique_id,
        features.snapshot_date,
        {% for feature in features %}
            features.{{ feature }},
        {% endfor %}
        least(greatest(
            0.0
            {% for feature in features %}
                + weight_row.{{ feature }}__weight
                * least(greatest(coalesce(cast(features.{{ feature }} as double), 0.0), 0.0), weight_row.{{ feature }}__cap)
                / weight_row.{{ feature }}__cap
            {% endfor %},
            0.0
        ), 1.0) as risk_score
    from features
    cross join weight_row

),

final as (

    select
        scored.customer_unique_id,
        scored.snapshot_date,
        scored.risk_score,
        {% for feature in features %}
            scored.{{ feature }},
        {% endfor %}
        thresholds.risk_tier
    from scored
    left join thresholds
        on
            scored.risk_score >= thresholds.lower_bound_inclusive
            and scored.risk_score < thresholds.upper_bound_exclusive

)

select * from final

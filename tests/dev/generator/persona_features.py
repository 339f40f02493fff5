"""An independent, minimal implementation of the four persona-targeted features of
FEATURES.md in DuckDB, used to check that the injected personas stand out.

It reads the raw CSVs the generator wrote, applies the spec's known_at rules, and returns one
row per (customer, snapshot) with the four target features.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from include.olist_risk.olist import tables as olist

FEATURES_SQL = """
with
orders as (
    select o.order_id, c.customer_unique_id as cust, o.order_status as status,
           o.order_purchase_timestamp as purchase, o.order_approved_at as approved,
           o.order_delivered_customer_date as delivered,
           o.order_estimated_delivery_date as estimated,
           lpad(c.customer_zip_code_prefix, 5, '0') as zip
    from raw_orders o join raw_customers c using (customer_id)
),
centroids as (
    select lpad(geolocation_zip_code_prefix, 5, '0') as zip,
           avg(geolocation_lat) as lat, avg(geolocation_lng) as lng
    from raw_geolocation
    where geolocation_lat between -33.75 and 5.27 and geolocation_lng between -73.99 and -34.79
    group by 1
),
snapshots as (
    select cast(s as date) as s
    from range(date '2016-10-01', date '2018-12-01', interval 1 month) t(s)
),
customer_snapshots as (
    select distinct o.cust, sn.s from orders o join snapshots sn on o.purchase < sn.s
),
cancel as (
    select cs.cust, cs.s,
           count(*) filter (where o.status = 'canceled' and o.approved is not null
                            and o.estimated < cs.s) / count(*) as cancel_rate_lifetime
    from customer_snapshots cs join orders o on o.cust = cs.cust and o.purchase < cs.s
    group by all
),
visible as (
    select cs.cust, cs.s, o.order_id,
           arg_max(r.review_score, (r.review_answer_timestamp, r.review_id))
               filter (where r.review_answer_timestamp < cs.s) as score
    from customer_snapshots cs
    join orders o on o.cust = cs.cust and o.purchase < cs.s
         and o.status = 'delivered' and o.delivered < cs.s
    left join raw_reviews r on r.order_id = o.order_id
    group by all
),
low as (
    select cust, s, count(*) as delivered_orders,
           count(*) filter (where score <= 2) / count(*) as low_review_on_delivered_rate
    from visible group by all
),
ordered as (
    select cs.cust, cs.s, o.purchase, c.lat, c.lng,
           lag(o.purchase) over w as prev_purchase, lag(c.lat) over w as prev_lat,
           lag(c.lng) over w as prev_lng
    from customer_snapshots cs
    join orders o on o.cust = cs.cust and o.purchase < cs.s
    left join centroids c on c.zip = o.zip
    window w as (partition by cs.cust, cs.s order by o.purchase, o.order_id)
),
velocity as (
    select cust, s, max(
        2 * 6371.0 * asin(sqrt(
            pow(sin(radians(lat - prev_lat) / 2), 2)
            + cos(radians(prev_lat)) * cos(radians(lat)) * pow(sin(radians(lng - prev_lng) / 2), 2)
        )) / greatest(epoch(purchase - prev_purchase) / 3600.0, 1.0)
    ) as max_geographic_velocity_kmh
    from ordered where lat is not null and prev_lat is not null
    group by all
),
sellers as (
    select cs.cust, cs.s, count(distinct i.seller_id) as distinct_sellers_last_7d
    from customer_snapshots cs
    join orders o on o.cust = cs.cust and o.purchase < cs.s
         and o.purchase >= cs.s - interval 7 days
    join raw_items i on i.order_id = o.order_id
    group by all
)
select cs.cust, cs.s, cancel.cancel_rate_lifetime, low.delivered_orders,
       low.low_review_on_delivered_rate, velocity.max_geographic_velocity_kmh,
       coalesce(sellers.distinct_sellers_last_7d, 0) as distinct_sellers_last_7d
from customer_snapshots cs
left join cancel using (cust, s)
left join low using (cust, s)
left join velocity using (cust, s)
left join sellers using (cust, s)
"""

RAW = {
    "raw_orders": "orders",
    "raw_customers": "customers",
    "raw_geolocation": "geolocation",
    "raw_reviews": "order_reviews",
    "raw_items": "order_items",
}


def persona_separation(data_dir: Path) -> dict[str, float]:
    """Per persona: the share of (persona customer, snapshot) pairs, over the snapshots the
    evaluation rule covers, whose target feature is above that snapshot's 95th percentile of
    unlabelled customers."""
    con = duckdb.connect()
    for view, table in RAW.items():
        path = data_dir / olist.TABLES[table].file_name
        con.execute(f"create view {view} as select * from read_csv('{path}', header=true)")
    con.execute(
        f"create view labels as select * from read_csv('{data_dir / olist.LABELS_FILE_NAME}',"
        " header=true, types={'first_active': 'DATE', 'last_active': 'DATE'})"
    )
    con.execute(f"create table features as {FEATURES_SQL}")
    shares: dict[str, float] = {}
    for persona, feature in con.execute(
        "select distinct persona, target_feature from labels"
    ).fetchall():
        population = "features f left join labels l on l.customer_unique_id = f.cust"
        eligible = "true"
        if feature == "low_review_on_delivered_rate":
            eligible = "f.delivered_orders >= 3"
        window = "f.s > l.first_active"
        if feature == "distinct_sellers_last_7d":
            window += " and f.s <= l.last_active + interval 7 days"
        shares[persona] = con.execute(
            f"""
            with p95 as (
                select f.s, quantile_cont(f.{feature}, 0.95) as p95
                from {population} where l.customer_unique_id is null and {eligible} group by 1
            )
            select avg(case when f.{feature} > coalesce(p95.p95, 0) then 1.0 else 0.0 end)
            from {population} join p95 using (s)
            where l.persona = '{persona}' and {window} and {eligible}
            """
        ).fetchone()[0]
    return shares

"""The injected abuse personas stand out on their target feature (ground_truth_labels.csv).

For each persona and each snapshot S after the pattern became observable (S > first_active;
for seller_burst only the S whose last 7 days hold the burst, i.e. orders_last_7d > 0; for
low_review_abuser only customers with >= 3 orders delivered before S, labelled or not), at
least 80 % of the labelled (customer, S) rows are strictly above the 95th percentile of the
unlabelled customers of that snapshot.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.dbt.helpers import Lake

PERSONAS = {
    "serial_canceller": "cancel_rate_lifetime",
    "low_review_abuser": "low_review_on_delivered_rate",
    "geo_hopper": "max_geographic_velocity_kmh",
    "seller_burst": "distinct_sellers_last_7d",
}


def load_labels(csv_dir: Path) -> dict[str, dict]:
    with (csv_dir / "ground_truth_labels.csv").open(newline="", encoding="utf-8") as handle:
        return {row["customer_unique_id"]: row for row in csv.DictReader(handle)}


def percentile_95(values: list[float]) -> float:
    ordered = sorted(values)
    index = 0.95 * (len(ordered) - 1)
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_persona_stands_out(generated_lake: Lake, persona: str) -> None:
    labels = load_labels(generated_lake.csv_dir)
    feature = PERSONAS[persona]
    assert {row["target_feature"] for row in labels.values() if row["persona"] == persona} == {
        feature
    }
    con = duckdb.connect()
    features = f"{generated_lake.warehouse}/gold/fct_customer_return_risk_features/*/*.parquet"
    changes = f"{generated_lake.warehouse}/gold/int_customer_feature_changes.parquet"
    rows = con.sql(
        f"""
        select f.customer_unique_id, f.snapshot_date, f.{feature}, f.orders_last_7d,
            c.delivered_orders
        from read_parquet('{features}', hive_partitioning = true) as f
        -- delivered orders before S come from the change point in effect at S
        left join read_parquet('{changes}') as c
            on f.customer_unique_id = c.customer_unique_id
            and c.change_bucket <= f.snapshot_date
            and coalesce(c.next_change_bucket, date '9999-12-01') > f.snapshot_date
        """
    ).fetchall()
    unlabelled: dict[date, list[float]] = defaultdict(list)
    labelled: list[tuple[date, float | None]] = []
    for uid, snapshot, value, orders_7d, delivered in rows:
        if persona == "low_review_abuser" and (delivered or 0) < 3:
            continue
        label = labels.get(uid)
        if label is None:
            if value is not None:
                unlabelled[snapshot].append(value)
            continue
        if label["persona"] != persona:
            continue
        if snapshot <= date.fromisoformat(label["first_active"]):
            continue
        if persona == "seller_burst" and orders_7d == 0:
            continue
        labelled.append((snapshot, value))
    assert len(labelled) >= 10, f"too few labelled {persona} rows to judge: {len(labelled)}"
    above = [
        value is not None and bool(unlabelled[s]) and value > percentile_95(unlabelled[s])
        for s, value in labelled
    ]
    share = sum(above) / len(above)
    assert share >= 0.8, f"{persona}: only {share:.0%} of {len(above)} rows above the p95"

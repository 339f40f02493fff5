"""Single-snapshot builds, partition replacement, truncation invariance (FEATURES.md section 3)."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime
from pathlib import Path

import pytest

from include.olist_risk.olist.tables import TABLES
from include.olist_risk.transform.dbt_invocation import FEATURE_STORE_MODEL, DbtError
from tests.dbt.compare import diff_rows
from tests.dbt.helpers import Lake, copy_warehouse, make_lake, read_features, snapshots_of

FMT = "%Y-%m-%d %H:%M:%S"


def partition_hashes(warehouse: str, model: str = FEATURE_STORE_MODEL) -> dict[str, str]:
    root = Path(warehouse) / "gold" / model
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.parquet"))
    }


def test_single_snapshot_build_replaces_only_its_partition(
    generated_lake: Lake, tmp_path: Path
) -> None:
    lake = copy_warehouse(generated_lake, tmp_path)
    snapshots = snapshots_of(lake.warehouse)
    target = snapshots[len(snapshots) // 2]
    full = read_features(lake.warehouse)
    before = partition_hashes(lake.warehouse)
    before_tiers = partition_hashes(lake.warehouse, "customer_risk_tiers")

    # gold alone, in a new process with an empty DuckDB: silver comes from the lake
    lake.dbt("build", "--select", "gold", snapshot_date=str(target))

    after = partition_hashes(lake.warehouse)
    changed = {name for name in before if before[name] != after.get(name)}
    assert set(after) == set(before)
    assert changed <= {f"snapshot_date={target}/data_0.parquet"}
    tiers_after = partition_hashes(lake.warehouse, "customer_risk_tiers")
    assert {n for n in before_tiers if before_tiers[n] != tiers_after.get(n)} <= {
        f"snapshot_date={target}/data_0.parquet"
    }
    expected = {key: row for key, row in full.items() if key[1] == target}
    assert expected
    assert diff_rows(expected, read_features(lake.warehouse, target)) == []


def test_full_refresh_replaces_the_directory(generated_lake: Lake, tmp_path: Path) -> None:
    lake = copy_warehouse(generated_lake, tmp_path)
    stale = Path(lake.warehouse) / "gold" / FEATURE_STORE_MODEL / "snapshot_date=2031-01-01"
    stale.mkdir()
    (stale / "data_0.parquet").write_bytes(b"stale")
    lake.dbt("run", "--select", FEATURE_STORE_MODEL)
    # DuckDB's OVERWRITE deletes every file under the directory (it may leave empty folders)
    assert not stale.exists() or not any(stale.iterdir())
    assert diff_rows(read_features(generated_lake.warehouse), read_features(lake.warehouse)) == []


def test_snapshot_past_the_range_and_invalid_snapshots(
    generated_lake: Lake, tmp_path: Path
) -> None:
    lake = copy_warehouse(generated_lake, tmp_path)
    last = snapshots_of(lake.warehouse)[-1]
    later = date(last.year + 1, last.month, 1)
    lake.dbt("run", "--select", FEATURE_STORE_MODEL, snapshot_date=str(later))
    rows = read_features(lake.warehouse, later)
    at_last = read_features(lake.warehouse, last)
    assert {k[0] for k in rows} == {k[0] for k in at_last}
    for (uid, _), row in rows.items():
        assert row["orders_last_30d"] == 0
        assert row["total_orders_lifetime"] == at_last[(uid, last)]["total_orders_lifetime"]
    with pytest.raises(DbtError, match="not after the earliest included purchase"):
        lake.dbt("run", "--select", FEATURE_STORE_MODEL, snapshot_date="2000-01-01")
    with pytest.raises(ValueError, match="month start"):
        lake.dbt("run", "--select", FEATURE_STORE_MODEL, snapshot_date="2018-01-15")


# ---------------------------------------------------------------------------------------
# truncation invariance


def _read(csv_dir: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (csv_dir / TABLES[name].file_name).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(out_dir: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / TABLES[name].file_name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _ts(value: str) -> datetime | None:
    value = (value or "").strip()
    return datetime.strptime(value, FMT) if value else None


def truncate(csv_dir: Path, out_dir: Path, snapshot: date) -> None:
    """The data as it was known at S, exactly as FEATURES.md section 3 words it."""
    s = datetime(snapshot.year, snapshot.month, snapshot.day)
    _customers_header, customers = _read(csv_dir, "customers")
    has_uid = {
        c["customer_id"].strip() for c in customers if (c["customer_unique_id"] or "").strip()
    }
    orders_header, orders = _read(csv_dir, "orders")
    removed, kept = set(), []
    for order in orders:
        purchase = _ts(order["order_purchase_timestamp"])
        included = purchase is not None and order["customer_id"].strip() in has_uid
        if included and purchase >= s:
            removed.add(order["order_id"].strip())
            continue
        delivered = _ts(order["order_delivered_customer_date"])
        if order["order_status"] == "delivered" and delivered is not None and delivered >= s:
            order = {**order, "order_delivered_customer_date": "", "order_status": "shipped"}
        estimated = _ts(order["order_estimated_delivery_date"])
        if (
            order["order_status"] == "canceled"
            and (order["order_approved_at"] or "").strip()
            and estimated is not None
            and estimated >= s
        ):
            order = {**order, "order_status": "processing"}
        kept.append(order)
    _write(out_dir, "orders", orders_header, kept)
    for name in ("order_items", "order_payments"):
        header, rows = _read(csv_dir, name)
        _write(out_dir, name, header, [r for r in rows if r["order_id"].strip() not in removed])
    header, reviews = _read(csv_dir, "order_reviews")
    _write(
        out_dir,
        "order_reviews",
        header,
        [
            r
            for r in reviews
            if r["order_id"].strip() not in removed
            and not ((answered := _ts(r["review_answer_timestamp"])) and answered >= s)
        ],
    )
    for name in (
        "customers",
        "sellers",
        "products",
        "geolocation",
        "product_category_name_translation",
    ):
        header, rows = _read(csv_dir, name)
        _write(out_dir, name, header, rows)


@pytest.mark.parametrize("position", ["early", "middle", "last"])
def test_truncation_invariance(generated_lake: Lake, tmp_path: Path, position: str) -> None:
    snapshots = snapshots_of(generated_lake.warehouse)
    snapshot = {
        "early": snapshots[2],
        "middle": snapshots[len(snapshots) // 2],
        "last": snapshots[-1],
    }[position]
    truncated = make_lake(tmp_path, lambda out: truncate(generated_lake.csv_dir, out, snapshot))
    # models and seeds only: the data tests are not what this compares, and cost half the build
    truncated.dbt("build", "--resource-type", "seed", "model", snapshot_date=str(snapshot))
    full = {k: v for k, v in read_features(generated_lake.warehouse).items() if k[1] == snapshot}
    assert full
    assert snapshots_of(truncated.warehouse) == [snapshot]
    assert diff_rows(full, read_features(truncated.warehouse, snapshot)) == []

"""Which snapshots a raw batch covers (FEATURES.md section 2), read from its raw Parquet.

The expected values below are worked out by hand from the rows each test writes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from include.olist_risk.ingestion import coverage as coverage_module
from include.olist_risk.ingestion.coverage import (
    BatchCoverage,
    batch_coverage,
    month_start_after,
    rule,
)
from include.olist_risk.lake.layout import POINTER_KEY, batch_coverage_key, table_key
from include.olist_risk.lake.storage import LocalLake, write_json
from include.olist_risk.olist.tables import TABLES

BATCH = "b-coverage"


def write_raw(lake: LocalLake, table: str, rows: list[dict[str, str | None]]) -> None:
    """One raw table as ingestion lands it: every column text, missing values NULL."""
    columns = TABLES[table].header
    target = Path(lake.uri(table_key(table, BATCH)))
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"create table t ({', '.join(f'{c} varchar' for c in columns)})")
    for row in rows:
        con.execute(
            f"insert into t values ({', '.join('?' for _ in columns)})",
            [row.get(c) for c in columns],
        )
    con.execute("copy t to $path (format parquet)", {"path": str(target)})
    con.close()


def order(order_id: str, customer_id: str, purchased: str | None) -> dict[str, str | None]:
    return {"order_id": order_id, "customer_id": customer_id, "order_purchase_timestamp": purchased}


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    # A quote and a space in the lake's path: the query takes paths as parameters.
    lake = LocalLake(tmp_path / "o'lake dir")
    write_raw(
        lake,
        "customers",
        [
            {"customer_id": "c1", "customer_unique_id": "u1"},
            {"customer_id": "c2", "customer_unique_id": "u2"},
            {"customer_id": "c3", "customer_unique_id": "  "},  # blank: no person
            {"customer_id": "c4", "customer_unique_id": None},  # missing: no person
            {"customer_id": "c5", "customer_unique_id": "u5"},
        ],
    )
    write_raw(
        lake,
        "orders",
        [
            order("o1", "c1", "2017-03-15 10:00:00"),
            order("o2", "c2", "2018-05-31 23:59:59"),  # the latest included purchase
            order("o3", "c3", "2016-01-02 00:00:00"),  # earlier, but c3 has no unique id
            order("o4", "c4", "2019-02-01 00:00:00"),  # later, but c4 has no unique id
            order("o5", "c1", None),  # no purchase timestamp
            order("o6", "c1", ""),  # blank purchase timestamp
            order("o7", "c404", "2015-01-01 00:00:00"),  # no customers row at all
            order("o8", "c5", "2016-12-31 23:59:59"),  # the earliest included purchase
        ],
    )
    return lake


def test_the_range_runs_from_the_month_after_the_earliest_to_the_month_after_the_latest(
    lake: LocalLake,
) -> None:
    coverage = batch_coverage(lake, BATCH)

    assert coverage.earliest_purchase == datetime(2016, 12, 31, 23, 59, 59)
    assert coverage.latest_purchase == datetime(2018, 5, 31, 23, 59, 59)
    # o8 (2016-12-31) falls in the bucket of 2017-01-01; o2 (2018-05-31) in 2018-06-01.
    assert coverage.first_snapshot == date(2017, 1, 1)
    assert coverage.last_snapshot == date(2018, 6, 1)
    assert "covers snapshots 2017-01-01 .. 2018-06-01" in coverage.describe()


def test_a_batch_without_included_orders_covers_nothing(lake: LocalLake) -> None:
    write_raw(lake, "orders", [order("o3", "c3", "2017-01-02 00:00:00"), order("o5", "c1", None)])

    coverage = batch_coverage(lake, BATCH)

    assert coverage == BatchCoverage(BATCH, None, None)
    assert coverage.first_snapshot is None and coverage.last_snapshot is None
    assert "has no included orders" in coverage.describe()


def drop_raw_tables(lake: LocalLake) -> None:
    for table in ("orders", "customers"):
        Path(lake.uri(table_key(table, BATCH))).unlink()


@pytest.mark.parametrize(
    "orders",
    [
        None,  # the fixture's
        [order("o2", "c2", "2018-05-31 23:59:59.25"), order("o8", "c5", "2016-12-31 08:00:00")],
        [order("o3", "c3", "2017-01-02 00:00:00")],  # no included order
    ],
    ids=["whole-seconds", "fractions-of-a-second", "no-included-orders"],
)
def test_later_reads_of_a_batch_return_the_span_the_first_one_kept(
    lake: LocalLake, orders: list[dict[str, str | None]] | None
) -> None:
    if orders is not None:
        write_raw(lake, "orders", orders)
    first = batch_coverage(lake, BATCH)
    drop_raw_tables(lake)  # from now on, only what the first read kept can answer

    assert batch_coverage(lake, BATCH) == first


def test_the_kept_span_is_read_from_the_lake(lake: LocalLake) -> None:
    batch_coverage(lake, BATCH)
    # as another process would find it: a file in the lake, not anything held in memory
    write_json(
        lake,
        batch_coverage_key(BATCH, rule()),
        {"batch_id": BATCH, "earliest_purchase": "2016-05-04T03:02:01.5", "latest_purchase": None},
    )

    coverage = batch_coverage(lake, BATCH)

    assert coverage == BatchCoverage(BATCH, datetime(2016, 5, 4, 3, 2, 1, 500000), None)


def test_a_changed_query_reads_the_orders_again(
    lake: LocalLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_coverage(lake, BATCH)
    old = batch_coverage_key(BATCH, rule())
    write_json(lake, old, {"batch_id": BATCH, "earliest_purchase": None, "latest_purchase": None})
    monkeypatch.setattr(coverage_module, "_PURCHASE_RANGE", coverage_module._PURCHASE_RANGE + " ")

    coverage = batch_coverage(lake, BATCH)

    assert coverage.earliest_purchase == datetime(2016, 12, 31, 23, 59, 59)
    assert batch_coverage_key(BATCH, rule()) != old
    assert lake.exists(batch_coverage_key(BATCH, rule()))


class RefusingLake(LocalLake):
    """A lake this DAG may read but not write (e.g. a raw area owned by ingestion)."""

    def write_bytes(self, key: str, data: bytes) -> None:
        raise PermissionError(f"{key}: read-only")


@pytest.mark.parametrize("trouble", ["unreadable", "unwritable"])
def test_a_span_that_cannot_be_kept_or_read_back_costs_the_query_not_the_run(
    lake: LocalLake, trouble: str
) -> None:
    if trouble == "unreadable":
        lake.write_bytes(batch_coverage_key(BATCH, rule()), b"{not json")
    else:
        lake = RefusingLake(lake.root)

    coverage = batch_coverage(lake, BATCH)

    assert coverage.earliest_purchase == datetime(2016, 12, 31, 23, 59, 59)
    assert coverage.latest_purchase == datetime(2018, 5, 31, 23, 59, 59)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2018, 5, 1, 0, 0, 0), date(2018, 6, 1)),  # strictly after: not 2018-05-01
        (datetime(2018, 5, 31, 23, 59, 59), date(2018, 6, 1)),
        (datetime(2016, 12, 15, 8, 0, 0), date(2017, 1, 1)),
    ],
)
def test_the_bucket_is_the_first_month_start_strictly_after(
    instant: datetime, expected: date
) -> None:
    assert month_start_after(instant) == expected


def test_the_tiny_batch_covers_what_its_full_refresh_builds(tmp_path: Path) -> None:
    """Through the product's own ingestion: the e2e tests' batch, whose full refresh builds
    2017-02-01 .. 2017-04-01 (included purchases 2017-01-05 .. 2017-03-04)."""
    from tests.dbt.helpers import make_lake
    from tests.ingestion.conftest import write_batch

    built = make_lake(tmp_path, write_batch)
    lake = LocalLake(built.lake_root)
    assert json.loads(lake.read_bytes(POINTER_KEY))["batch_id"] == built.batch_id

    coverage = batch_coverage(lake, built.batch_id)

    assert (coverage.first_snapshot, coverage.last_snapshot) == (date(2017, 2, 1), date(2017, 4, 1))

"""Which snapshots a raw batch covers: the range a full refresh of it builds.

FEATURES.md section 2: a full refresh builds every month start from the first one strictly
after the earliest included purchase to the first one strictly after the latest, inclusive.
An included order is one whose `customer_id` has a customers row with a non-null
`customer_unique_id` and whose purchase timestamp is not null (section 1); nothing else
moves the range.

Computed from the batch's raw Parquet (all text, as delivered) with the same cleaning bronze
applies (`clean_text`: trimmed, empty is NULL), in one query, before any dbt runs: the
feature-store DAG decides from it whether a run's snapshot has data at all (`resolve_run`, and
the quality gate again when it moves to a batch published while the run waited).

That query reads every order of the batch, so it grows with the history while a monthly run
builds one month. A batch's raw tables are the delivered files as text and its id is their
checksum, so the span of a batch id never changes: the first run that reads it keeps it beside
the batch's manifest and later runs read that file instead. The file is named by a hash of the
query, so a changed rule reads the orders again. Keeping it is best effort: a lake that
refuses the write, or a kept file that cannot be read, costs the query, never the run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import batch_coverage_key, table_key
from include.olist_risk.lake.storage import Lake, read_json, write_json

log = logging.getLogger(__name__)

# Parameters, not string-built SQL: a lake path may contain quotes or spaces.
_PURCHASE_RANGE = """
    with customers as (
        select nullif(trim(customer_id), '') as customer_id
        from read_parquet($customers)
        where nullif(trim(customer_unique_id), '') is not null
    ),
    included as (
        select cast(nullif(trim(o.order_purchase_timestamp), '') as timestamp) as purchased_at
        from read_parquet($orders) as o
        where nullif(trim(o.order_id), '') is not null
            and nullif(trim(o.customer_id), '') in (select customer_id from customers)
    )
    select min(purchased_at), max(purchased_at)
    from included
    where purchased_at is not null
"""


@dataclass(frozen=True)
class BatchCoverage:
    """The included purchases' span and the snapshots it gives (None when there are none)."""

    batch_id: str
    earliest_purchase: datetime | None
    latest_purchase: datetime | None

    @property
    def first_snapshot(self) -> date | None:
        return None if self.earliest_purchase is None else month_start_after(self.earliest_purchase)

    @property
    def last_snapshot(self) -> date | None:
        return None if self.latest_purchase is None else month_start_after(self.latest_purchase)

    def describe(self) -> str:
        if self.first_snapshot is None:
            return f"raw batch {self.batch_id} has no included orders"
        return (
            f"raw batch {self.batch_id} covers snapshots {self.first_snapshot} .. "
            f"{self.last_snapshot} (included purchases {self.earliest_purchase} .. "
            f"{self.latest_purchase})"
        )


def month_start_after(instant: datetime) -> date:
    """The first month start strictly after `instant` (its snapshot bucket)."""
    return date(instant.year + instant.month // 12, instant.month % 12 + 1, 1)


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def rule() -> str:
    """What names a kept span: the query that computed it."""
    return hashlib.sha256(_PURCHASE_RANGE.encode()).hexdigest()[:12]


def _kept(lake: Lake, key: str, batch_id: str) -> BatchCoverage | None:
    if not lake.exists(key):
        return None
    try:
        kept = read_json(lake, key)
        return BatchCoverage(
            batch_id, _instant(kept["earliest_purchase"]), _instant(kept["latest_purchase"])
        )
    except (KeyError, TypeError, ValueError):
        log.warning(
            "cannot read %s; reading the batch's orders instead", lake.uri(key), exc_info=True
        )
        return None


def batch_coverage(
    lake: Lake, batch_id: str, credentials: S3Credentials | None = None
) -> BatchCoverage:
    key = batch_coverage_key(batch_id, rule())
    kept = _kept(lake, key, batch_id)
    if kept is not None:
        return kept
    with connect(credentials=credentials) as con:
        earliest, latest = con.execute(
            _PURCHASE_RANGE,
            {
                "orders": lake.uri(table_key("orders", batch_id)),
                "customers": lake.uri(table_key("customers", batch_id)),
            },
        ).fetchone()
    try:
        write_json(
            lake,
            key,
            {
                "batch_id": batch_id,
                "earliest_purchase": None if earliest is None else earliest.isoformat(),
                "latest_purchase": None if latest is None else latest.isoformat(),
            },
        )
    except Exception:
        log.warning("could not keep the span in %s", lake.uri(key), exc_info=True)
    return BatchCoverage(batch_id, earliest, latest)


class SnapshotOutsideData(ValueError):
    """The snapshot asked for has no data in the current raw batch."""


def check_covered(snapshot: str, coverage: BatchCoverage) -> None:
    """Raise SnapshotOutsideData unless `snapshot` ('' = full refresh) has data in the batch."""
    first, last = coverage.first_snapshot, coverage.last_snapshot
    if first is None or last is None:
        raise SnapshotOutsideData(f"{coverage.describe()}: there is no snapshot to build")
    if not snapshot:
        return
    asked = date.fromisoformat(snapshot)
    if asked < first:
        raise SnapshotOutsideData(
            f"snapshot {snapshot} is not after the earliest included purchase "
            f"({coverage.earliest_purchase}) of raw batch {coverage.batch_id}: it would have no "
            f"rows; the batch covers snapshots {first} .. {last}"
        )
    if asked > last:
        raise SnapshotOutsideData(
            f"snapshot {snapshot} is after the last month raw batch {coverage.batch_id} covers: "
            f"its latest included purchase is {coverage.latest_purchase}, so its last snapshot "
            f"is {last} (it covers {first} .. {last})"
        )

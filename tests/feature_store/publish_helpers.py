"""Fake builds, a lake that fails on cue, and the two ways a reader sees the feature store."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from include.olist_risk.feature_store.publish import MODEL_DIR, Publication, publish_snapshots
from include.olist_risk.lake.catalog import read_current_set, refresh_catalog, sql_string
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import run_build_prefix
from include.olist_risk.lake.storage import Lake

CODE = "code-1"
# The calls that change the lake; a publish of n snapshots makes 2n + 1 of them
# (a file and a manifest per snapshot, then the pointer).
WRITES = ("put_file", "write_bytes", "replace_if_unchanged")


def build(lake: Lake, run_id: str, snapshots: dict[str, int], batch: str, tmp: Path) -> str:
    """A run's gold build as dbt lays it out: one Parquet file per snapshot, `batch` in a column
    so that a reader can tell which delivery each row came from."""
    prefix = run_build_prefix(run_id)
    tmp.mkdir(parents=True, exist_ok=True)
    with connect() as con:
        for snapshot, rows in snapshots.items():
            local = tmp / f"{uuid.uuid4().hex}.parquet"
            con.execute(
                f"copy (select 'c' || i as customer_unique_id, '{batch}' as batch, "
                f"'{run_id}' as run from range({rows}) t(i)) to {sql_string(str(local))} "
                "(format parquet)"
            )
            lake.put_file(local, f"{prefix}/{MODEL_DIR}/snapshot_date={snapshot}/data_0.parquet")
    return prefix


def publish(lake: Lake, run_id: str, batch: str, *, full_refresh: bool) -> Publication:
    return publish_snapshots(
        lake,
        run_build_prefix(run_id),
        raw_batch_id=batch,
        version=CODE,
        run_id=run_id,
        full_refresh=full_refresh,
    )


def via_pointer(lake: Lake, credentials: S3Credentials | None = None) -> dict[str, tuple]:
    """snapshot -> (rows, batch, run), reading only the files the pointer lists, each checked
    against the checksum its manifest records."""
    current = read_current_set(lake)
    if current is None:
        return {}
    seen = {}
    with connect(credentials=credentials) as con:
        for snapshot, entry in current["snapshots"].items():
            data = lake.read_bytes(entry["key"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry
            assert entry["raw_batch_id"] == current["raw_batch_id"], (entry, current)
            assert entry["code_version"] == current["code_version"], (entry, current)
            seen[snapshot] = con.execute(
                "select count(*), min(batch), max(batch), min(run) from read_parquet(?)",
                [lake.uri(entry["key"])],
            ).fetchone()
    return {snapshot: _one_source(row) for snapshot, row in sorted(seen.items())}


def via_catalog(lake: Lake, tmp: Path, credentials: S3Credentials | None = None) -> dict:
    """What a user querying the catalog's view sees: snapshot -> (rows, batch, run)."""
    catalog = tmp / f"catalog-{uuid.uuid4().hex}" / "olist.duckdb"
    views = refresh_catalog(lake, catalog, credentials)
    if "fct_customer_return_risk_features" not in views.get("feature_store", {}):
        return {}
    with connect(catalog, credentials, read_only=True) as con:
        rows = con.execute(
            "select cast(snapshot_date as varchar), count(*), min(batch), max(batch), min(run) "
            "from feature_store.fct_customer_return_risk_features group by 1 order by 1"
        ).fetchall()
    return {row[0]: _one_source(row[1:]) for row in rows}


def _one_source(row: tuple) -> tuple:
    count, low, high, run = row
    assert low == high, f"one snapshot mixes batches {low} and {high}"
    return count, low, run


class FailingLake:
    """The lake, except that write number `fail_at` (0-based) raises `error`, or, with
    `kill=True`, the process is killed with SIGKILL right before that write (or right after
    the last one when `fail_at` is past it): no handler, no clean-up, as when the worker dies."""

    def __init__(self, lake: Lake, fail_at: int, error: BaseException | None = None, kill=False):
        self._lake = lake
        self._fail_at = fail_at
        self._error = error
        self._kill = kill
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._lake, name)
        if name not in WRITES:
            return attribute

        def write(*args: Any, **kwargs: Any) -> Any:
            if self.writes == self._fail_at:
                if self._kill:
                    os.kill(os.getpid(), signal.SIGKILL)
                raise self._error
            self.writes += 1
            return attribute(*args, **kwargs)

        return write

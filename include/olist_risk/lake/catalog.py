"""The DuckDB catalog file: views over the lake, for people and tools to query.

The lake is the record; this file holds no data, only views, so it can be rebuilt at any
time. It is written to a temporary file and renamed into place, so a reader never sees a
half-built catalog and the writer never waits on a reader's lock. A copy goes to the lake
(`catalog/olist.duckdb`) so that it can be attached from anywhere (no shared disk on MWAA).

The `feature_store` view lists exactly the files the feature store's pointer
(`feature_store/_current.json`) names when the catalog is refreshed, so it shows one complete
published set; the DAG refreshes it right after each publish, and until then it keeps showing
the previous set, whose files garbage collection keeps for a retention period (publish.py).
Paths go into the views' SQL as escaped string literals (a view cannot take parameters), so a
lake path with a quote in it works.

A publish running alongside a refresh (two runs of a backfill) may name a newer build, and remove
the superseded one, between the refresh reading the lake and creating its views on those files.
The refresh then reads the lake again and starts over, as it does when a publish lands while it
writes the catalog (which would otherwise name superseded files); a missing file while the
pointers and the latest build still name the same files is an error. Between a publish and
its own refresh, the `gold` layer views of a catalog made before may name the removed build.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import (
    FEATURE_STORE_POINTER_KEY,
    LAKE_CATALOG_KEY,
    LATEST_BUILD_KEY,
    POINTER_KEY,
    batch_manifest_key,
    table_key,
)
from include.olist_risk.lake.storage import Lake, read_json

LAYERS = ("bronze", "silver", "gold")
# Each new attempt follows a publish that finished meanwhile; more in a row means a lake
# that never holds still, better reported than chased.
REFRESH_ATTEMPTS = 5

log = logging.getLogger(__name__)


def sql_string(value: str) -> str:
    """A SQL string literal: a view's definition cannot take parameters, so a lake path with a
    quote in it is escaped the SQL way (doubled), never pasted in raw."""
    return "'" + value.replace("'", "''") + "'"


def read_current_set(lake: Lake) -> dict[str, Any] | None:
    """The published feature store as its pointer names it, or None before the first publish.

    `snapshots` maps each snapshot date to its file (`key`, relative to the lake root), rows,
    sha256, raw batch, code version and the run and publication that wrote it. Read the
    pointer once and use only the files it lists: that set is complete and consistent, while
    listing `feature_store/` may show a publication still being written or one left behind.
    """
    if not lake.exists(FEATURE_STORE_POINTER_KEY):
        return None
    return read_json(lake, FEATURE_STORE_POINTER_KEY)


def catalog_views(
    lake: Lake, build_prefixes: Sequence[str] | None = None
) -> dict[str, dict[str, str]]:
    """schema -> view -> the `read_parquet` expression it selects from.

    Layers come from `build_prefixes` (a run's batch-scoped build and its own), by default
    those of the build that published last.
    """
    views: dict[str, dict[str, str]] = defaultdict(dict)
    if build_prefixes is None:
        latest = read_json(lake, LATEST_BUILD_KEY) if lake.exists(LATEST_BUILD_KEY) else {}
        build_prefixes = latest.get("build_prefixes", [])
    if lake.exists(POINTER_KEY):
        batch_id = read_json(lake, POINTER_KEY)["batch_id"]
        manifest = read_json(lake, batch_manifest_key(batch_id))
        for table in sorted(manifest["tables"]):
            source = sql_string(lake.uri(table_key(table, batch_id)))
            views["raw"][table] = f"read_parquet({source})"
    current = read_current_set(lake)
    if current and current["snapshots"]:
        # Exactly the files the pointer lists, not a glob: a publication being written, or
        # one no longer current, is never part of what a reader sees.
        files = ", ".join(
            sql_string(lake.uri(entry["key"])) for _, entry in sorted(current["snapshots"].items())
        )
        views["feature_store"]["fct_customer_return_risk_features"] = (
            f"read_parquet([{files}], hive_partitioning = true)"
        )
    for build_prefix in build_prefixes:
        for layer in LAYERS:
            models: dict[str, bool] = {}
            for key in lake.list(f"{build_prefix}/{layer}"):
                rest = key[len(build_prefix) + len(layer) + 2 :]
                if rest.endswith(".parquet"):
                    name, _, tail = rest.partition("/")
                    models[name.removesuffix(".parquet")] = bool(tail)
            for name, partitioned in sorted(models.items()):
                base = lake.uri(f"{build_prefix}/{layer}/{name}")
                views[layer][name] = (
                    f"read_parquet({sql_string(base + '/**/*.parquet')}, hive_partitioning = true)"
                    if partitioned
                    else f"read_parquet({sql_string(base + '.parquet')})"
                )
    return dict(views)


def refresh_catalog(
    lake: Lake, catalog_path: Path, credentials: S3Credentials | None = None
) -> dict[str, dict[str, str]]:
    """Rebuild the catalog file from what the lake holds now; returns the views it made."""
    attempt = 0
    while True:
        attempt += 1
        named = _published_names(lake)
        try:
            views = catalog_views(lake)
            _write_catalog(lake, catalog_path, views, credentials)
        # FileNotFoundError: a local lake's folder removed while it was listed
        except (duckdb.IOException, FileNotFoundError) as error:
            if _published_names(lake) == named:
                raise
            if attempt == REFRESH_ATTEMPTS:
                raise RuntimeError(
                    f"publishes overtook each of {REFRESH_ATTEMPTS} catalog refreshes in a row"
                ) from error
            first_line = str(error).splitlines()[0]
            log.warning("a publish overtook the catalog refresh (%s): again", first_line)
            continue
        # Overtaken after its views were made, the catalog names superseded files; the
        # publish that overtook it refreshes the catalog after it anyway, but maybe (without
        # the one-slot pool) before this one renamed its file, so start over while it can.
        if _published_names(lake) == named or attempt == REFRESH_ATTEMPTS:
            return views
        log.warning("a publish overtook the catalog refresh while it wrote the catalog: again")


def _published_names(lake: Lake) -> list[bytes | None]:
    """What names the files the views read: the batch pointer, the feature store's pointer
    and the latest build."""
    return [
        lake.read_bytes(key) if lake.exists(key) else None
        for key in (POINTER_KEY, FEATURE_STORE_POINTER_KEY, LATEST_BUILD_KEY)
    ]


def _write_catalog(
    lake: Lake,
    catalog_path: Path,
    views: dict[str, dict[str, str]],
    credentials: S3Credentials | None,
) -> None:
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=catalog_path.parent, prefix=f".{catalog_path.name}.")
    os.close(fd)
    os.unlink(tmp)
    try:
        with connect(tmp, credentials) as con:
            for schema, tables in views.items():
                con.execute(f'create schema if not exists "{schema}"')
                for name, source in tables.items():
                    con.execute(
                        f'create or replace view "{schema}"."{name}" as select * from {source}'
                    )
            con.execute("checkpoint")
        lake.put_file(Path(tmp), LAKE_CATALOG_KEY)
        os.replace(tmp, catalog_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

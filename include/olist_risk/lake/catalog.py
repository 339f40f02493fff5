"""The DuckDB catalog file: views over the lake, for people and tools to query.

The lake is the record; this file holds no data, only views, so it can be rebuilt at any
time. It is written to a temporary file and renamed into place, so a reader never sees a
half-built catalog and the writer never waits on a reader's lock. A copy goes to the lake
(`catalog/olist.duckdb`) so that it can be attached from anywhere (no shared disk on MWAA).
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import (
    FEATURE_STORE_PREFIX,
    LAKE_CATALOG_KEY,
    LATEST_BUILD_KEY,
    POINTER_KEY,
    batch_manifest_key,
    table_key,
)
from include.olist_risk.lake.storage import Lake, read_json

LAYERS = ("bronze", "silver", "gold")


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
            views["raw"][table] = f"read_parquet('{lake.uri(table_key(table, batch_id))}')"
    if lake.list(FEATURE_STORE_PREFIX):
        published = lake.uri(FEATURE_STORE_PREFIX)
        views["feature_store"]["fct_customer_return_risk_features"] = (
            f"read_parquet('{published}/*/*.parquet', hive_partitioning = true)"
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
                    f"read_parquet('{base}/**/*.parquet', hive_partitioning = true)"
                    if partitioned
                    else f"read_parquet('{base}.parquet')"
                )
    return dict(views)


def refresh_catalog(
    lake: Lake, catalog_path: Path, credentials: S3Credentials | None = None
) -> dict[str, dict[str, str]]:
    """Rebuild the catalog file from what the lake holds now; returns the views it made."""
    views = catalog_views(lake)
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=catalog_path.parent, prefix=f".{catalog_path.name}.")
    os.close(fd)
    os.unlink(tmp)
    try:
        with connect(tmp, credentials) as con:
            for schema, tables in views.items():
                con.execute(f"create schema if not exists {schema}")
                for name, source in tables.items():
                    con.execute(f"create or replace view {schema}.{name} as select * from {source}")
            con.execute("checkpoint")
        lake.put_file(Path(tmp), LAKE_CATALOG_KEY)
        os.replace(tmp, catalog_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return views

"""The ingestion DAG's task bodies, kept out of the DAG file so it parses in milliseconds."""

from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowFailException

from include.olist_risk.ingestion.batch import (
    Batch,
    BatchError,
    BatchHeld,
    discover_batch,
    publish_batch,
    stage_table,
)
from include.olist_risk.ingestion.gates import GateLimits
from include.olist_risk.ingestion.validate import IngestionError
from include.olist_risk.lake.catalog import refresh_catalog
from include.olist_risk.lake.runtime import load_runtime

log = logging.getLogger(__name__)


def discover() -> dict:
    runtime = load_runtime()
    try:
        batch = discover_batch(
            runtime.landing, runtime.lake, recursive=runtime.settings.landing_recursive
        )
    except (BatchError, IngestionError) as error:
        raise AirflowFailException(str(error)) from None
    log.info("batch %s: %d files in %s", batch.batch_id, len(batch.files), runtime.landing.root)
    return batch.to_dict()


def stage(batch: dict, table: str) -> dict:
    runtime = load_runtime()
    try:
        part = stage_table(runtime.landing, runtime.lake, Batch.from_dict(batch), table)
    except IngestionError as error:
        # Bad data does not heal on retry: fail now, with the file, row and column.
        raise AirflowFailException(f"rejected {error}") from None
    log.info("staged %s: %d rows -> %s", table, part["rows"], runtime.lake.uri(part["parquet_key"]))
    return part


def publish(batch: dict, accept_shrink: bool = False) -> dict:
    runtime = load_runtime()
    limits = GateLimits(
        max_row_shrink=runtime.settings.max_row_shrink,
        max_orphan_share=runtime.settings.max_orphan_share,
        accept_shrink=accept_shrink,
    )
    try:
        manifest = publish_batch(runtime.lake, Batch.from_dict(batch), limits, runtime.credentials)
    except BatchHeld as held:
        # The same files give the same verdict on retry: fail now, with the reason.
        raise AirflowFailException(str(held)) from None
    for accepted in manifest.get("gates", {}).get("accepted_shrink", []):
        log.warning("accepted with accept_shrink: %s", accepted)
    rows = {name: part["rows"] for name, part in manifest["tables"].items()}
    log.info("published batch %s to %s/raw: %s", manifest["batch_id"], runtime.lake.root, rows)
    return {"batch_id": manifest["batch_id"], "rows": rows}


def refresh() -> dict:
    runtime = load_runtime()
    views = refresh_catalog(runtime.lake, runtime.settings.catalog_path, runtime.credentials)
    log.info(
        "DuckDB catalog %s: %s",
        runtime.settings.catalog_path,
        {k: len(v) for k, v in views.items()},
    )
    return {"catalog": str(runtime.settings.catalog_path), "schemas": sorted(views)}

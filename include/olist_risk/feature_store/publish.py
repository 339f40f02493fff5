"""Write, audit, publish: the built snapshot becomes visible only after its contract passes.

    feature_store/snapshot_date=<S>/data_0.parquet      the published partition
    feature_store/_manifests/snapshot_date=<S>.json     input batch, code version, rows, time

Each partition file is replaced in one atomic step (rename locally, one PUT on S3), so a
reader sees the old snapshot or the new one, and a re-run replaces exactly its snapshot.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import snapshot_manifest_key, snapshot_partition_key
from include.olist_risk.lake.storage import Lake, write_json

MODEL_DIR = "gold/fct_customer_return_risk_features"


def built_partitions(lake: Lake, build_prefix: str) -> dict[str, str]:
    """snapshot date -> key of its Parquet file in the run's build."""
    partitions = {}
    for key in lake.list(f"{build_prefix}/{MODEL_DIR}"):
        if key.endswith(".parquet") and "snapshot_date=" in key:
            partitions[key.split("snapshot_date=")[1].split("/")[0]] = key
    return dict(sorted(partitions.items()))


def publish_snapshots(
    lake: Lake,
    build_prefix: str,
    *,
    raw_batch_id: str,
    version: str,
    run_id: str,
    credentials: S3Credentials | None = None,
) -> list[dict]:
    """Copy each built partition to the published feature store, then its manifest."""
    partitions = built_partitions(lake, build_prefix)
    if not partitions:
        raise RuntimeError(f"nothing to publish: no partitions under {lake.uri(build_prefix)}")
    published = []
    with tempfile.TemporaryDirectory() as tmp, connect(credentials=credentials) as con:
        for snapshot, key in partitions.items():
            local = Path(tmp) / f"{snapshot}.parquet"
            lake.get_file(key, local)
            rows = con.execute(f"select count(*) from read_parquet('{local}')").fetchone()[0]
            target = snapshot_partition_key(snapshot)
            lake.put_file(local, target)
            manifest = {
                "snapshot_date": snapshot,
                "rows": rows,
                "raw_batch_id": raw_batch_id,
                "code_version": version,
                "run_id": run_id,
                "built_from": lake.uri(key),
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            write_json(lake, snapshot_manifest_key(snapshot), manifest)
            published.append(manifest)
    return published

"""The README's main job: data in the landing zone, both DAGs run by real Airflow, a summary.

Generates the embedded default (or keeps what is already in the landing zone), runs each DAG
once with `airflow dags test` (real tasks, real dbt/DuckDB/Soda, one process, no scheduler
needed) and prints where every output is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from dev.generator.generate import generate
from dev.metadata_db import running
from include.olist_risk.config import load_settings
from include.olist_risk.lake.layout import (
    FEATURE_STORE_MANIFESTS,
    FEATURE_STORE_PREFIX,
    POINTER_KEY,
)
from include.olist_risk.lake.storage import open_lake, read_json
from include.olist_risk.olist.tables import TABLES


def _run_dag(dag_id: str, conf: str | None = None) -> float:
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id]
    if conf:
        command += ["--conf", conf]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if result.returncode != 0 or "state=failed" in result.stdout + result.stderr:
        sys.stderr.write((result.stdout + result.stderr)[-6000:])
        raise SystemExit(f"DAG {dag_id} failed (see the log tail above)")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    # The same metadata database as `make airflow`, so its UI shows these runs.
    with running(home) as db:
        os.environ.update(db.env())
        run_pipeline(args)


def run_pipeline(args: argparse.Namespace) -> None:
    settings = load_settings()
    if settings.landing_uri.startswith("s3://"):
        raise SystemExit("local_run generates into a local landing folder; unset OLIST_LANDING_URI")

    landing = Path(settings.landing_uri)
    expected = {table.file_name for table in TABLES.values()}
    present = {path.name for path in landing.glob("*.csv")} if landing.exists() else set()
    marker = landing / ".generated"
    wanted = f"scale={args.scale} seed={args.seed}"
    if expected <= present and (not marker.exists() or marker.read_text() == wanted):
        print(f"landing zone {landing} already holds a batch; reusing it")
    else:
        result = generate(landing, scale=args.scale, seed=args.seed)
        marker.write_text(wanted)
        orders = result.row_counts.get("olist_orders_dataset.csv", 0)
        print(
            f"generated scale {args.scale}: {orders} orders in {result.seconds:.1f}s -> {landing}"
        )

    seconds = _run_dag("olist_ingestion")
    lake = open_lake(settings.lake_uri)
    pointer = read_json(lake, POINTER_KEY)
    print(f"ingestion: {seconds:.1f}s, published batch {pointer['batch_id']}")
    print(f"raw zone:        {lake.uri('raw')}")
    print(f"batch manifest:  {lake.uri(pointer['manifest'])}")

    seconds = _run_dag("return_risk_feature_store", conf='{"full_refresh": true}')
    manifests = sorted(lake.list(FEATURE_STORE_MANIFESTS))
    rows = sum(read_json(lake, key)["rows"] for key in manifests)
    print(f"feature store: {seconds:.1f}s, {len(manifests)} snapshots, {rows} rows")
    print(f"feature store:   {lake.uri(FEATURE_STORE_PREFIX)}/snapshot_date=YYYY-MM-DD/")
    print(f"Soda reports:    {lake.uri('reports/dag_id=return_risk_feature_store')}/")
    print(
        f"DuckDB catalog:  {settings.catalog_path}  "
        "(schemas raw, bronze, silver, gold, feature_store)"
    )


if __name__ == "__main__":
    main()

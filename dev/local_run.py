"""The README's main job: data in the landing zone, both DAGs run by real Airflow, a summary.

Generates the embedded default (or keeps what is already in the landing zone), runs each DAG
once with `airflow dags test` (real tasks, real dbt/DuckDB/Soda, one process, no scheduler
needed) and prints where every output is. While a DAG runs, one line per task start and end
(elapsed time, state) shows progress; the whole Airflow output goes to a log file beside the
metadata database, and its tail is printed when a DAG fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from dev.generator.generate import generate
from dev.metadata_db import running
from include.olist_risk.config import load_settings
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.layout import FEATURE_STORE_POINTER_KEY, POINTER_KEY
from include.olist_risk.lake.storage import open_lake, read_json
from include.olist_risk.olist.tables import TABLES

_TASK_EVENT = re.compile(r"\[DAG TEST\] (starting|end task) task_id=(\S+)")
_NEW_STATE = re.compile(r"Task instance state updated.* new_state=(\w+)")


def _run_dag(dag_id: str, log_dir: Path, conf: dict | None = None) -> float:
    """Run `dag_id` with `airflow dags test`, printing a line per task start and end."""
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id]
    if conf:
        command += ["--conf", json.dumps(conf)]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{dag_id}.log"
    tail: deque[str] = deque(maxlen=120)
    task_started: dict[str, float] = {}
    state, failed = "?", False
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ.copy(),
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            tail.append(line)
            failed = failed or "state=failed" in line
            if found := _NEW_STATE.search(line):
                state = found.group(1)
            if not (event := _TASK_EVENT.search(line)):
                continue
            kind, task = event.groups()
            now = time.perf_counter()
            if kind == "starting":
                task_started[task] = now
                print(f"  [{now - started:6.1f}s] {dag_id}: {task} started", flush=True)
            else:
                took = now - task_started.get(task, now)
                print(
                    f"  [{now - started:6.1f}s] {dag_id}: {task} {state} in {took:.1f}s",
                    flush=True,
                )
    if process.returncode != 0 or failed:
        sys.stderr.write("".join(tail)[-6000:])
        raise SystemExit(f"DAG {dag_id} failed (the log tail above; whole log: {log_path})")
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
    log_dir = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "local_run"
    expected = {table.file_name for table in TABLES.values()}
    present = {path.name for path in landing.glob("*.csv")} if landing.exists() else set()
    marker = landing / ".generated"
    wanted = f"scale={args.scale} seed={args.seed}"
    ingestion_conf = None
    if expected <= present and not marker.exists():
        print(f"landing zone {landing} holds a delivery not generated here; using it as is")
    elif expected <= present and marker.read_text() == wanted:
        print(f"landing zone {landing} already holds the generated {wanted} delivery; reusing it")
    else:
        result = generate(landing, scale=args.scale, seed=args.seed)
        marker.write_text(wanted)
        orders = result.row_counts.get("olist_orders_dataset.csv", 0)
        print(f"generated {wanted}: {orders} orders in {result.seconds:.1f}s -> {landing}")
        # Asking for a smaller scale is asking for a smaller delivery: the ingestion's shrink
        # gate would rightly hold it otherwise.
        ingestion_conf = {"accept_shrink": True}

    seconds = _run_dag("olist_ingestion", log_dir, ingestion_conf)
    lake = open_lake(settings.lake_uri)
    pointer = read_json(lake, POINTER_KEY)
    print(f"ingestion: {seconds:.1f}s, published batch {pointer['batch_id']}")
    print(f"raw zone:        {lake.uri('raw')}")
    print(f"batch manifest:  {lake.uri(pointer['manifest'])}")

    seconds = _run_dag("return_risk_feature_store", log_dir, {"full_refresh": True})
    # What the run published, as its pointer lists it; not a listing of the lake, which may
    # also hold older publications kept for readers until garbage collection.
    current = read_current_set(lake)
    if current is None:
        raise SystemExit("the feature-store run succeeded but published no pointer")
    snapshots = current["snapshots"]
    rows = sum(entry["rows"] for entry in snapshots.values())
    print(
        f"feature store: {seconds:.1f}s, {len(snapshots)} snapshots "
        f"({min(snapshots)} .. {max(snapshots)}), {rows} rows, "
        f"publication {current['publication_id']} from batch {current['raw_batch_id']}"
    )
    print(f"feature store:   {lake.uri(FEATURE_STORE_POINTER_KEY)} (lists the current files)")
    print(f"Soda reports:    {lake.uri('reports/dag_id=return_risk_feature_store')}/")
    print(f"Airflow output:  {log_dir}/ (one log per DAG run by make run)")
    print(
        f"DuckDB catalog:  {settings.catalog_path}  "
        "(schemas raw, bronze, silver, gold, feature_store)"
    )


if __name__ == "__main__":
    main()

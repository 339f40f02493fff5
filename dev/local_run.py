"""The README's main job: data in the landing zone, both DAGs run by real Airflow, a summary.

Generates the embedded default (or keeps what is already in the landing zone), runs each DAG
once with `airflow dags test` (real tasks, real dbt/DuckDB/Soda, one process, no scheduler
needed) and prints where every output is. While a DAG runs, one line per task start and end
(elapsed time, state) shows progress; the whole Airflow output goes to a log file beside the
metadata database, and its tail is printed when a DAG fails.

Task logs in the UI: `dags test` runs every task inside its own process, with no worker and
no supervisor writing a log file, so a task's log only goes to the command's output: nothing
lands where the UI's log reader looks (`[logging] base_log_folder`, `log_filename_template`).
So `dags test` runs with Airflow's JSON logging (`[logging] json_logs`: each line one
structured record, the format of a worker's task log file), and each task's lines, from
`[DAG TEST] starting` to `end task`, are appended as they come to the file a worker would
write for that try: the path is Airflow's own template rendered for the task instance,
created by Airflow's `init_log_file`. So `make airflow` shows these runs' logs, also while a
task runs.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from dev.generator.generate import generate
from dev.metadata_db import running
from include.olist_risk.config import load_settings
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.layout import FEATURE_STORE_POINTER_KEY, POINTER_KEY
from include.olist_risk.lake.storage import open_lake, read_json
from include.olist_risk.olist.tables import TABLES

_TASK_EVENT = re.compile(r"\[DAG TEST\] (starting|end task) task_id=(\S+)")
# The line that names the try being run: its task instance id is that try's own (Airflow 3
# gives each try a new one and keeps the ids of earlier tries in task_instance_history).
_RUNNING_TASK = re.compile(r"\[DAG TEST\] running task <TaskInstance: .* ti_id=([0-9a-f-]+)>")
_CONSOLE_KEYS = ("timestamp", "level", "event", "logger", "exception")


def _record(line: str) -> dict[str, Any] | None:
    """The structured log record a line of `dags test` output is, or None for other output."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "event" in record else None


def _console_line(record: dict[str, Any]) -> str:
    """A record as a line for people: the local_run log and the tail printed on failure."""
    extras = " ".join(f"{key}={value}" for key, value in record.items() if key not in _CONSOLE_KEYS)
    text = (
        f"{record.get('timestamp', '')} [{record.get('level', '')}] {record['event']} "
        f"[{record.get('logger', '')}] {extras}"
    ).rstrip()
    exception = record.get("exception")
    if isinstance(exception, str):
        text += "\n" + exception
    for error in exception if isinstance(exception, list) else ():
        for frame in error.get("frames", []):
            where = f"{frame.get('filename')}, line {frame.get('lineno')}"
            text += f"\n  File {where}, in {frame.get('name')}"
        text += f"\n{error.get('exc_type')}: {error.get('exc_value')}"
    return text + "\n"


def task_log_path(ti_id: str) -> Path:
    """The log file of one try, created where a worker would write it and the UI reads it.

    Airflow's template (`[logging] log_filename_template`) rendered for the try's task
    instance, made under `base_log_folder` by Airflow's own `init_log_file` (folders and
    permissions as a worker's). Airflow is imported here, once the metadata database's
    settings are in the environment.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.sdk.log import init_log_file
    from airflow.utils.helpers import log_filename_template_renderer
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        # A try that has already failed into a retry is in the history under its own id.
        ti = session.get(TaskInstance, UUID(ti_id)) or session.scalar(
            select(TaskInstanceHistory).where(TaskInstanceHistory.task_instance_id == UUID(ti_id))
        )
        if ti is None:
            raise RuntimeError(f"no task instance {ti_id} in the metadata database")
        relative = log_filename_template_renderer()(ti=ti)
    return init_log_file(relative)


class TaskLogs:
    """Appends each task's lines of a `dags test` run to that try's log file, as they come."""

    def __init__(self) -> None:
        self._lines: list[str] | None = None  # a task's lines until its try is known
        self._file: IO[str] | None = None

    def feed(self, line: str, record: dict[str, Any] | None) -> None:
        event = _TASK_EVENT.search(record["event"]) if record else None
        if event and event.group(1) == "starting":
            self.close()
            self._lines = []
        if self._lines is None and self._file is None:
            return  # not a task's line: DAG parsing, the run's own bookkeeping
        if record is None:
            # Output that bypassed logging (print, a child's stderr): a worker's supervisor
            # logs it as `task.stdout`, with the time it was read.
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            stdout = {"timestamp": now, "level": "info", "event": line.rstrip("\n")}
            line = json.dumps({**stdout, "logger": "task.stdout"}, separators=(",", ":"))
        line = line.rstrip("\n") + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()  # the UI reads the file while the task runs
        else:
            self._lines.append(line)
            if record and (running := _RUNNING_TASK.search(record["event"])):
                # Appended, as a worker does: a sensor's reschedules share one try's file.
                self._file = task_log_path(running.group(1)).open("a", encoding="utf-8")
                self._file.writelines(self._lines)
                self._file.flush()
                self._lines = None
        if event and event.group(1) == "end task":
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._lines = None, None


def run_dag(dag_id: str, log_dir: Path, conf: dict | None = None) -> float:
    """Run `dag_id` with `airflow dags test`, printing a line per task start and end."""
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id]
    if conf:
        command += ["--conf", json.dumps(conf)]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{dag_id}.log"
    tail: deque[str] = deque(maxlen=120)
    task_started: dict[str, float] = {}
    task_logs = TaskLogs()
    state, failed = "?", False
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "AIRFLOW__LOGGING__JSON_LOGS": "True"},
        ) as process,
    ):
        for line in process.stdout:
            record = _record(line)
            task_logs.feed(line, record)
            readable = _console_line(record) if record else line
            log.write(readable)
            tail.append(readable)
            if record is None:
                continue
            failed = (
                failed or record.get("new_state") == "failed" or "state=failed" in record["event"]
            )
            state = record.get("new_state", state)
            if not (event := _TASK_EVENT.search(record["event"])):
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
        task_logs.close()
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

    seconds = run_dag("olist_ingestion", log_dir, ingestion_conf)
    lake = open_lake(settings.lake_uri)
    pointer = read_json(lake, POINTER_KEY)
    print(f"ingestion: {seconds:.1f}s, published batch {pointer['batch_id']}")
    print(f"raw zone:        {lake.uri('raw')}")
    print(f"batch manifest:  {lake.uri(pointer['manifest'])}")

    seconds = run_dag("return_risk_feature_store", log_dir, {"full_refresh": True})
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
    print("task logs:       in the Airflow UI (`make airflow`), on each task of these runs")
    print(
        f"DuckDB catalog:  {settings.catalog_path}  "
        "(schemas raw, bronze, silver, gold, feature_store)"
    )


if __name__ == "__main__":
    main()

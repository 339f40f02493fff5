"""Time the whole pipeline under real Airflow and split each DAG run into work and overhead.

    python benchmarks/pipeline.py [--scale 1.0]

Runs in a throw-away Airflow home and data folder: generation, the ingestion DAG, the
feature-store DAG as a full refresh (every snapshot in one run), then one monthly run (the
interval ending at 2018-09-01). Each DAG runs with `airflow dags test` (tasks one after the
other), so wall time = sum of task durations + Airflow's own overhead (parsing, scheduling,
task start-up); the task durations come from the metadata database.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode != 0 or "state=failed" in output:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - started


def task_seconds(home: Path, dag_id: str) -> tuple[float, int, dict[str, float]]:
    """Sum of task durations of the DAG's latest run, their count, and the slowest groups."""
    with sqlite3.connect(home / "airflow.db") as con:
        (run_id,) = con.execute(
            "select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
        ).fetchone()
        rows = con.execute(
            "select task_id, coalesce(duration, 0) from task_instance "
            "where dag_id = ? and run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    groups: dict[str, float] = {}
    for task_id, duration in rows:
        group = task_id.split(".")[0]
        groups[group] = groups.get(group, 0.0) + duration
    return sum(d for _, d in rows), len(rows), groups


def report(label: str, wall: float, home: Path, dag_id: str) -> None:
    work, count, groups = task_seconds(home, dag_id)
    overhead = wall - work
    print(
        f"{label:<28} wall {wall:7.1f} s | {count:3d} tasks {work:7.1f} s | "
        f"Airflow overhead {overhead:6.1f} s ({overhead / wall:4.0%})"
    )
    slowest = sorted(groups.items(), key=lambda item: -item[1])[:6]
    print("    by group: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="olist-bench-") as tmp:
        home = Path(tmp) / "airflow"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "OLIST_DATA_DIR": str(Path(tmp) / "data"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        run([str(BIN / "airflow"), "db", "migrate"], env)
        run([sys.executable, "-m", "dev.airflow_settings"], env)
        landing = Path(tmp) / "data" / "landing"
        seconds = run(
            [
                sys.executable,
                "-m",
                "dev.generator.generate",
                "--out",
                str(landing),
                "--scale",
                str(args.scale),
            ],
            env,
        )
        print(f"scale {args.scale}: generation {seconds:.1f} s")
        airflow = str(BIN / "airflow")
        wall = run([airflow, "dags", "test", "olist_ingestion"], env)
        report("ingestion", wall, home, "olist_ingestion")
        dag = "return_risk_feature_store"
        wall = run([airflow, "dags", "test", dag, "--conf", '{"full_refresh": true}'], env)
        report("feature store, full refresh", wall, home, dag)
        wall = run([airflow, "dags", "test", dag, "2018-08-01"], env)
        report("feature store, one month", wall, home, dag)


if __name__ == "__main__":
    main()

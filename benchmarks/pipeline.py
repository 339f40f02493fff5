"""What an Airflow run costs next to the same dbt work in one process, side by side.

    python benchmarks/pipeline.py [--scale 1.0] [--scheduler] [--snapshot-pairs 3]
    make bench SCALE=1 SCHEDULER=1

In a throw-away Airflow home and data folder: generate, ingest (`airflow dags test`), then
for a full refresh (every snapshot) and for one monthly snapshot (2018-08-01):

- the feature-store DAG with `airflow dags test` (real tasks, one after the other);
- one `dbt build` of the same nodes with the same settings in a single process: every node
  for the full refresh (the first run on the batch); for the monthly run, which reuses the
  batch's build, the nodes every run rebuilds (`PER_RUN`), reading that same build.

Prints wall and CPU seconds of each, their ratios, the peak RSS of the largest process, how
many dbt processes each Airflow run started and how many of them parsed the whole project.

With `--scheduler`, the same two runs also go through a real Airflow (scheduler, API server,
DAG processor, PostgreSQL: the end-to-end tests' harness), triggered through the REST API,
on a lake of their own: wall from trigger to the run's end, the sum of its task durations,
and the same one-process dbt builds beside them. Unpausing the DAG makes the scheduler run
the latest month first; that run gets a throw-away batch, so the measured full refresh is
still the first run on its batch.

The monthly run and its one-process build take seconds, so the machine's load moves their
ratio: they are measured `--snapshot-pairs` times (3), each pair one right after the other,
and the median ratio is printed with the range.

The machine is shared: compare the ratios, measured in one run, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
BIN = Path(sys.executable).parent
DAG = "return_risk_feature_store"
SNAPSHOT = "2018-08-01"


@dataclass
class Cost:
    wall: float
    cpu: float
    peak_rss_gib: float
    output: str
    nodes: int | None = None  # of a dbt build: models, seeds and tests it ran


def measure(command: list[str], env: dict[str, str]) -> Cost:
    """Wall and CPU seconds of a command and everything it started (children are waited)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = result.stdout + result.stderr
    if result.returncode != 0 or "state=failed" in output:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of children is the largest single process so far (KiB on Linux)
    return Cost(wall, cpu, after.ru_maxrss / 2**20, output)


def dbt_in_one_process(env: dict[str, str], lake: str, snapshot: str | None, work: Path) -> Cost:
    """The DAG's dbt work as one `dbt build`, through the same invocation module."""
    from include.olist_risk.ingestion.batch import current_batch_id
    from include.olist_risk.lake.storage import LocalLake
    from include.olist_risk.transform.batch_build import complete_build
    from include.olist_risk.transform.code_version import code_version
    from include.olist_risk.transform.dbt_invocation import (
        DBT_PROJECT_DIR,
        GATED_BY_SODA,
        DbtInvocation,
    )
    from include.olist_risk.transform.layer_run import LAYERS, PER_RUN

    local = LocalLake(lake)
    batch_id = current_batch_id(local) or ""
    build_root = f"{lake}/warehouse/bench-{snapshot or 'full'}"
    select = [scope for scopes in LAYERS.values() for scope in scopes]
    batch_build_root = None
    if snapshot:
        select = [scope for scopes in PER_RUN.values() for scope in scopes]
        built = complete_build(local, batch_id, code_version(DBT_PROJECT_DIR))
        if built is None:
            raise SystemExit("the Airflow runs left no complete batch build to compare with")
        batch_build_root = local.uri(built["prefix"])
    invocation = DbtInvocation(
        lake_root=lake,
        raw_batch_id=batch_id,
        build_root=build_root,
        batch_build_root=batch_build_root,
        snapshot_date=snapshot,
        dbt_executable=Path(env["OLIST_DBT_EXECUTABLE"]),
        target_path=work / "target",
        log_path=work / "logs",
    )
    invocation.seed_partial_parse()
    command = invocation.command(["build", "--select", *select, *GATED_BY_SODA])
    cost = measure(command, invocation.env(env))
    cost.nodes = len(json.loads(invocation.run_results_path.read_text())["results"])
    return cost


def dbt_processes(output: str) -> tuple[int, int]:
    """(dbt processes, full parses) of a `dags test` run, from the tasks' own log lines."""
    processes = output.count("dbt build of ")
    return processes, output.count("Unable to do partial parsing")


TASK_LINE = re.compile(r"^(\S+Z) .*\[DAG TEST\] (starting|end task) task_id=(\S+) ", re.MULTILINE)


def task_walls(output: str) -> dict[str, float]:
    """Wall seconds of each task of a `dags test` run, from its start and end log lines."""
    started: dict[str, datetime] = {}
    walls: dict[str, float] = {}
    for stamp, event, task in TASK_LINE.findall(output):
        at = datetime.fromisoformat(stamp)
        if event == "starting":
            started[task] = at
        elif task in started:
            walls[task] = walls.get(task, 0.0) + (at - started.pop(task)).total_seconds()
    return walls


def report(label: str, airflow: Cost, dbt: Cost) -> None:
    processes, full_parses = dbt_processes(airflow.output)
    print(
        f"{label:<18} Airflow wall {airflow.wall:7.1f} s cpu {airflow.cpu:7.1f} s | "
        f"one dbt process ({dbt.nodes} nodes) wall {dbt.wall:6.1f} s cpu {dbt.cpu:6.1f} s | "
        f"ratio wall {airflow.wall / dbt.wall:4.2f}x cpu {airflow.cpu / dbt.cpu:4.2f}x | "
        f"dbt processes {processes}, full parses {full_parses} | "
        f"peak RSS {max(airflow.peak_rss_gib, dbt.peak_rss_gib):.2f} GiB"
    )
    walls = task_walls(airflow.output)
    print(
        f"{'':<18} Airflow tasks: "
        + ", ".join(f"{task} {wall:.1f}" for task, wall in walls.items())
        + f"; outside tasks {airflow.wall - sum(walls.values()):.1f} s"
    )


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of at least 1")
    return int(value)


def print_median(label: str, how: str, ratios: list[float]) -> None:
    print(
        f"{label:<18} {how}: median ratio (wall) of {len(ratios)} pairs "
        f"{statistics.median(ratios):4.2f}x (from {min(ratios):4.2f}x to {max(ratios):4.2f}x)"
    )


def under_scheduler(tmp: Path, landing: Path, env: dict[str, str], pairs: int) -> None:
    """The full refresh and the monthly run through a real scheduler and its REST API."""
    from tests.e2e.airflow_cluster import AirflowCluster
    from tests.ingestion.conftest import write_batch

    lake, throwaway = tmp / "sched-lake", tmp / "sched-landing"
    cluster_env = {
        "OLIST_LANDING_URI": str(throwaway),
        "OLIST_LAKE_URI": str(lake),
        "OLIST_CATALOG_PATH": str(tmp / "sched-catalog" / "olist.duckdb"),
        "OLIST_DBT_EXECUTABLE": env["OLIST_DBT_EXECUTABLE"],
        "OLIST_TOOL_PYTHON": env["OLIST_TOOL_PYTHON"],
    }
    with AirflowCluster(tmp / "sched-home", cluster_env) as cluster:
        api = cluster.client()

        def run(dag_id: str, conf: dict) -> tuple[float, dict[str, float], list[float]]:
            """Wall from the trigger to the run's end as Airflow recorded it (not when the
            client's next poll saw it), task durations, and the waits: before the first task,
            between tasks, after the last."""
            triggered_at = datetime.now(UTC)
            triggered = api.trigger(dag_id, conf=conf)
            done = api.wait_for_run(dag_id, triggered["dag_run_id"], timeout=3600, poll=1)
            if done["state"] != "success":
                raise SystemExit(api.run_report(dag_id, done["dag_run_id"]))
            ended_at = datetime.fromisoformat(done["end_date"])
            wall = (ended_at - triggered_at).total_seconds()
            instances = api.task_instances(dag_id, done["dag_run_id"])
            ordered = sorted(instances, key=lambda ti: ti["start_date"] or "")
            spans = [
                (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
                for ti in ordered
                if ti["start_date"]
            ]
            waits = [
                (spans[0][0] - triggered_at).total_seconds(),
                sum((b[0] - a[1]).total_seconds() for a, b in pairwise(spans)),
                (ended_at - spans[-1][1]).total_seconds(),
            ]
            return wall, {ti["task_id"]: ti["duration"] or 0.0 for ti in ordered}, waits

        for dag_id in ("olist_ingestion", DAG):
            api.wait_for_dag(dag_id)
            api.unpause(dag_id)
        write_batch(throwaway)
        run("olist_ingestion", {})
        for scheduled in api.dag_runs(DAG, run_type="scheduled"):
            api.wait_for_run(DAG, scheduled["dag_run_id"], timeout=1800)
        shutil.rmtree(throwaway)
        shutil.copytree(landing, throwaway)
        run("olist_ingestion", {})
        measured = [("full refresh", {"full_refresh": True}, None)] + [
            (f"snapshot {SNAPSHOT}", {"snapshot_date": SNAPSHOT}, SNAPSHOT)
        ] * pairs
        ratios = []
        for label, conf, snapshot in measured:
            wall, durations, waits = run(DAG, conf)
            dbt = dbt_in_one_process(env, str(lake), snapshot, tmp / f"sched-dbt-{label[:4]}")
            if snapshot:
                ratios.append(wall / dbt.wall)
            tasks = sum(durations.values())
            print(
                f"{label:<18} scheduler: trigger to end {wall:6.1f} s, task durations "
                f"{tasks:6.1f} s | one dbt process wall {dbt.wall:6.1f} s | "
                f"ratio wall {wall / dbt.wall:4.2f}x"
            )
            print(
                f"{'':<18} scheduler tasks: "
                + ", ".join(f"{task} {seconds:.1f}" for task, seconds in durations.items())
                + f"; outside tasks {wall - tasks:.1f} s (before the first {waits[0]:.1f}, "
                f"between tasks {waits[1]:.1f}, after the last {waits[2]:.1f})"
            )
        print_median(f"snapshot {SNAPSHOT}", "scheduler", ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--scheduler", action="store_true", help="also under a real scheduler")
    parser.add_argument(
        "--snapshot-pairs",
        type=positive,
        default=3,
        help="times the monthly run and its one-process build are measured, one after the other",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"scale {args.scale}; load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="olist-bench-") as tmp:
        home, data = Path(tmp) / "airflow", Path(tmp) / "data"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "OLIST_DATA_DIR": str(data),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        env.setdefault("OLIST_DBT_EXECUTABLE", str(PROJECT_ROOT / ".venv-tools" / "bin" / "dbt"))
        env.setdefault("OLIST_TOOL_PYTHON", str(PROJECT_ROOT / ".venv-tools" / "bin" / "python"))
        airflow = str(BIN / "airflow")
        measure([airflow, "db", "migrate"], env)
        measure([sys.executable, "-m", "dev.airflow_settings"], env)
        generated = measure(
            [sys.executable, "-m", "dev.generator.generate", "--out", str(data / "landing"),
             "--scale", str(args.scale)],
            env,
        )  # fmt: skip
        print(f"generation {generated.wall:.1f} s")
        ingested = measure([airflow, "dags", "test", "olist_ingestion"], env)
        print(f"ingestion (Airflow) {ingested.wall:.1f} s")
        lake = str(data / "lake")
        full = measure([airflow, "dags", "test", DAG, "--conf", '{"full_refresh": true}'], env)
        full_dbt = dbt_in_one_process(env, lake, None, Path(tmp) / "dbt-full")
        report("full refresh", full, full_dbt)
        months = []
        for _ in range(args.snapshot_pairs):
            month = measure([airflow, "dags", "test", DAG, "--conf", json.dumps(
                {"snapshot_date": SNAPSHOT})], env)  # fmt: skip
            month_dbt = dbt_in_one_process(env, lake, SNAPSHOT, Path(tmp) / "dbt-month")
            report(f"snapshot {SNAPSHOT}", month, month_dbt)
            months.append((month, month_dbt))
        print_median(
            f"snapshot {SNAPSHOT}", "airflow dags test", [a.wall / d.wall for a, d in months]
        )
        print(
            f"Airflow single snapshot (median of {len(months)}) / Airflow full refresh: wall "
            f"{statistics.median(a.wall for a, _ in months) / full.wall:.2f}, "
            f"cpu {statistics.median(a.cpu for a, _ in months) / full.cpu:.2f}"
        )
        if args.scheduler:
            under_scheduler(Path(tmp), data / "landing", env, args.snapshot_pairs)


if __name__ == "__main__":
    main()

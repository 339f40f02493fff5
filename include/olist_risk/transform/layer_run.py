"""One layer's `dbt build`, without Airflow: shared by the Airflow task and the ECS container.

`DbtLayerBuildOperator` (layer_build.py) calls `build_layer` on the Airflow worker; with
`OLIST_DBT_EXECUTION=aws_ecs` the same function runs inside an ECS Fargate task
(layer_container.py), so both paths decide alike what to build (a reused batch build, a
retry of only what did not succeed) and leave the same run_results.json in the lake.
Nothing here imports Airflow: the container image has no Airflow.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.olist_risk.config import Settings
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import dbt_results_key
from include.olist_risk.lake.storage import Lake, read_json, write_json
from include.olist_risk.transform.batch_build import completion, mark_complete
from include.olist_risk.transform.dbt_invocation import (
    GATED_BY_SODA,
    DbtError,
    DbtInvocation,
    run_dbt,
)

UNFINISHED = ("error", "fail", "skipped", "runtime error")
# What each layer's task builds. Together they are every node one `dbt build` of the project
# runs (tests/dbt/test_project_runs.py checks it): with indirect selection `buildable`, a
# test spanning two layers runs in the later one, once both are built.
LAYERS = {
    "bronze": ["path:models/bronze"],
    "silver": ["path:models/silver"],
    "gold": ["path:models/gold", "path:seeds"],
}
# What each layer still builds when its batch-scoped models are reused: the models every run
# builds for its own snapshot (partitioned by it, see `olist_model_root` in lake_paths.sql)
# and their tests. A layer missing here has nothing to do on a batch already built.
PER_RUN = {"gold": ["path:models/gold,config.partition_by:snapshot_date"]}
# The batch-scoped build is complete, hence reusable, once this layer succeeds.
LAST_LAYER = list(LAYERS)[-1]
# The run values a layer build is given, templated from the run's XComs by either operator
# (on the worker, layer_build.py; on ECS, ecs_layer_build.py).
RUN_VALUE_FIELDS = (
    "raw_batch_id",
    "build_prefix",
    "snapshot_date",
    "batch_build_prefix",
    "code_version",
)
# Kept with a try's run_results.json in the lake: the inputs it built from.
BUILT_FROM = "olist_built_from"
# An ECS container's last log line: this marker, then the layer's result as JSON.
RESULT_MARKER = "OLIST_LAYER_RESULT "


class LayerBuildFailed(RuntimeError):
    """dbt failed (its run_results.json, if any, is already in the lake)."""


@dataclass(frozen=True)
class LayerRun:
    """What one layer task builds: the run values the DAG renders for it."""

    layer: str
    select: Sequence[str]
    raw_batch_id: str
    build_prefix: str
    snapshot_date: str
    batch_build_prefix: str
    code_version: str
    run_id: str

    def built_from(self) -> dict[str, str]:
        """The inputs that decide what the layer's nodes contain (not where the run writes)."""
        return {
            "raw_batch_id": self.raw_batch_id,
            "batch_build_prefix": self.batch_build_prefix,
            "code_version": self.code_version,
            "snapshot_date": self.snapshot_date,
        }


def previous_results(
    lake: Lake, key: str, built_from: dict[str, Any], log: logging.Logger | Any
) -> dict[str, Any]:
    """The previous try's run_results, if it built from the same batch, code and snapshot.

    A run cleared after ingestion published another batch (or after a code change) resolves
    anew: what its earlier try left undone says nothing about the new inputs, and re-running
    only that would leave the rest of the layer built from the old ones.
    """
    if not lake.exists(key):
        return {}
    previous = read_json(lake, key)
    if previous.pop(BUILT_FROM, None) != built_from:
        log.info("the previous try built from other inputs: building the whole layer again")
        return {}
    return previous


def unfinished_nodes(run_results: dict[str, Any]) -> list[str]:
    return [r["unique_id"] for r in run_results.get("results", []) if r["status"] in UNFINISHED]


def retry_selection(select: Sequence[str]) -> list[str]:
    """What did not succeed last time (and what depends on it), within the layer's selection."""
    statuses = ("error", "fail", "skipped")
    return [f"result:{status}+,{scope}" for status in statuses for scope in select]


def node_table(run_results: dict[str, Any]) -> str:
    """A fixed-width table of every node dbt ran: the per-model status of the layer."""
    rows = [("node", "status", "seconds", "rows", "message")]
    for result in sorted(run_results.get("results", []), key=lambda r: r["unique_id"]):
        kind, _, name = result["unique_id"].partition(".")
        rows_affected = (result.get("adapter_response") or {}).get("rows_affected")
        message = "" if result["status"] in ("success", "pass") else (result.get("message") or "")
        rows.append(
            (
                f"{kind} {name.partition('.')[2]}",
                result["status"],
                f"{result.get('execution_time') or 0:.2f}",
                "" if rows_affected is None else str(rows_affected),
                message.splitlines()[0][:120] if message else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    )


def failure_summary(layer: str, run_results: dict[str, Any]) -> str:
    failed = [r for r in run_results.get("results", []) if r["status"] in ("error", "fail")]
    lines = [f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()}" for r in failed]
    return f"dbt build of {layer}: {len(failed)} node(s) failed\n" + "\n".join(lines)


def build_layer(
    run: LayerRun,
    *,
    lake: Lake,
    settings: Settings,
    credentials: S3Credentials | None,
    log: logging.Logger | Any,
) -> dict[str, Any]:
    """`dbt build` of one layer's selection, for the run's batch, build prefix and snapshot.

    A retry re-runs only what did not succeed in the previous try (run_results.json is kept in
    the lake: the retry may run on another worker or container). Raises LayerBuildFailed.
    """
    complete = completion(lake, run.batch_build_prefix)
    reused = complete is not None
    select = PER_RUN.get(run.layer, []) if reused else list(run.select)
    if reused:
        log.info(
            "raw batch %s with code %s was built by run %s under %s: reusing it, %s",
            run.raw_batch_id,
            run.code_version,
            complete["built_by_run"],
            lake.uri(run.batch_build_prefix),
            f"building only {' '.join(select)}" if select else "nothing to build",
        )
    if not select:
        return {"layer": run.layer, "reused": True, "nodes": 0, "full_parse": False, "seconds": 0.0}
    results_key = dbt_results_key(run.build_prefix, run.layer)
    built_from = {**run.built_from(), "select": select}
    with tempfile.TemporaryDirectory(prefix=f"dbt-{run.layer}-") as tmp:
        work = Path(tmp)
        command = ["build", "--select", *select, *GATED_BY_SODA]
        previous = previous_results(lake, results_key, built_from, log)
        unfinished = unfinished_nodes(previous)
        if unfinished:
            state = work / "state"
            state.mkdir()
            (state / "run_results.json").write_text(json.dumps(previous))
            command = [
                "build",
                "--select",
                *retry_selection(select),
                *GATED_BY_SODA,
                "--state",
                str(state),
            ]
            log.info("re-running only what did not succeed last time: %s", ", ".join(unfinished))
        else:
            # Anything but a retry of what failed starts from an empty folder, as dbt's full
            # refresh does on a local lake. On S3 DuckDB cannot delete: partitions an earlier
            # try wrote for months the batch (resolved again since) no longer covers would
            # stay in the run's build, and be published.
            lake.delete_prefix(f"{run.build_prefix}/{run.layer}")
        invocation = DbtInvocation(
            lake_root=settings.lake_uri,
            raw_batch_id=run.raw_batch_id,
            build_root=lake.uri(run.build_prefix),
            batch_build_root=lake.uri(run.batch_build_prefix),
            snapshot_date=run.snapshot_date or None,
            s3=credentials,
            dbt_executable=settings.dbt_executable,
            project_dir=settings.dbt_project_dir,
            target_path=work / "target",
            log_path=work / "logs",
        )
        error: DbtError | None = None
        try:
            result = run_dbt(command, invocation, on_line=log.info)
        except DbtError as failed:
            error = failed
        results_path = invocation.run_results_path
        results = json.loads(results_path.read_text()) if results_path.exists() else None
    if results is None:
        raise LayerBuildFailed(str(error) if error else "no run_results")
    write_json(lake, results_key, {**results, BUILT_FROM: built_from})
    log.info("dbt build of %s, node by node:\n%s", run.layer, node_table(results))
    if error is not None:
        raise LayerBuildFailed(failure_summary(run.layer, results))
    if run.layer == LAST_LAYER and not reused:
        mark_complete(lake, run.raw_batch_id, run.code_version, run.batch_build_prefix, run.run_id)
    return {
        "layer": run.layer,
        "reused": reused,
        "nodes": len(results["results"]),
        "full_parse": result.full_parse,
        "seconds": round(results.get("elapsed_time") or 0, 2),
    }

"""One `dbt build` per layer, in one process: the task behind each layer's group in the DAG.

A task per model paid Airflow's and dbt's start-up (about 8 s) for every model, several times
the dbt work itself. Here each layer is one dbt process. Its task log streams dbt's lines and
ends with a table of every node (status, seconds, rows, message); a failure names the failing
nodes with dbt's message. A retry (or a cleared failed task) re-runs only what did not succeed
in the previous try, with dbt's `result:` selectors against that try's run_results.json, which
is kept in the lake because the retry may land on another worker (MWAA has no shared disk).

Models that depend only on the raw batch are built once per batch and code and then reused
(see batch_build.py): on a batch already built, bronze and silver have nothing to do and gold
builds only the models partitioned by snapshot, for the run's snapshot.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from include.olist_risk.lake.layout import dbt_results_key
from include.olist_risk.lake.runtime import load_runtime
from include.olist_risk.lake.storage import read_json, write_json
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


class DbtLayerBuildOperator(BaseOperator):
    """`dbt build` of one layer's selection, for the run's batch, build prefix and snapshot."""

    template_fields = (
        "raw_batch_id",
        "build_prefix",
        "snapshot_date",
        "batch_build_prefix",
        "code_version",
    )
    ui_color = "#ff694a"

    def __init__(
        self,
        *,
        layer: str,
        select: Sequence[str],
        raw_batch_id: str,
        build_prefix: str,
        snapshot_date: str,
        batch_build_prefix: str,
        code_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.layer = layer
        self.select = list(select)
        self.raw_batch_id = raw_batch_id
        self.build_prefix = build_prefix
        self.snapshot_date = snapshot_date
        self.batch_build_prefix = batch_build_prefix
        self.code_version = code_version

    def execute(self, context: Any) -> dict[str, Any]:
        runtime = load_runtime()
        lake, settings = runtime.lake, runtime.settings
        complete = completion(lake, self.batch_build_prefix)
        reused = complete is not None
        select = PER_RUN.get(self.layer, []) if reused else self.select
        if reused:
            self.log.info(
                "raw batch %s with code %s was built by run %s under %s: reusing it, %s",
                self.raw_batch_id,
                self.code_version,
                complete["built_by_run"],
                lake.uri(self.batch_build_prefix),
                f"building only {' '.join(select)}" if select else "nothing to build",
            )
        if not select:
            return {
                "layer": self.layer,
                "reused": True,
                "nodes": 0,
                "full_parse": False,
                "seconds": 0.0,
            }
        results_key = dbt_results_key(self.build_prefix, self.layer)
        with tempfile.TemporaryDirectory(prefix=f"dbt-{self.layer}-") as tmp:
            work = Path(tmp)
            command = ["build", "--select", *select, *GATED_BY_SODA]
            previous = read_json(lake, results_key) if lake.exists(results_key) else {}
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
                self.log.info(
                    "re-running only what did not succeed last time: %s", ", ".join(unfinished)
                )
            invocation = DbtInvocation(
                lake_root=settings.lake_uri,
                raw_batch_id=self.raw_batch_id,
                build_root=lake.uri(self.build_prefix),
                batch_build_root=lake.uri(self.batch_build_prefix),
                snapshot_date=self.snapshot_date or None,
                s3=runtime.credentials,
                dbt_executable=settings.dbt_executable,
                project_dir=settings.dbt_project_dir,
                target_path=work / "target",
                log_path=work / "logs",
            )
            error: DbtError | None = None
            try:
                run = run_dbt(command, invocation, on_line=self.log.info)
            except DbtError as failed:
                error = failed
            results_path = invocation.run_results_path
            results = json.loads(results_path.read_text()) if results_path.exists() else None
        if results is None:
            raise AirflowException(str(error)) if error else AirflowException("no run_results")
        write_json(lake, results_key, results)
        self.log.info("dbt build of %s, node by node:\n%s", self.layer, node_table(results))
        if error is not None:
            raise AirflowException(failure_summary(self.layer, results))
        if self.layer == LAST_LAYER and not reused:
            mark_complete(
                lake,
                self.raw_batch_id,
                self.code_version,
                self.batch_build_prefix,
                context["run_id"],
            )
        return {
            "layer": self.layer,
            "reused": reused,
            "nodes": len(results["results"]),
            "full_parse": run.full_parse,
            "seconds": round(results.get("elapsed_time") or 0, 2),
        }

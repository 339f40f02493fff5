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

The build itself is `layer_run.build_layer` (no Airflow there), which an ECS Fargate task runs
instead of the worker when `OLIST_DBT_EXECUTION=aws_ecs` (ecs_layer_build.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from include.olist_risk.lake.runtime import load_runtime
from include.olist_risk.transform.layer_run import (
    RUN_VALUE_FIELDS,
    LayerBuildFailed,
    LayerRun,
    build_layer,
)

# Where each layer's dbt runs: `local` (this worker, the default) or `aws_ecs` (an ECS
# Fargate task, see ecs_layer_build.py and deploy/README.md). Read from the environment
# only, so parsing the DAG costs nothing; on MWAA the template sets the Airflow
# configuration option `olist.dbt_execution`, which MWAA exports as AIRFLOW__OLIST__*.
DBT_EXECUTIONS = ("local", "aws_ecs")


def dbt_execution() -> str:
    value = (
        os.environ.get("OLIST_DBT_EXECUTION")
        or os.environ.get("AIRFLOW__OLIST__DBT_EXECUTION")
        or "local"
    )
    value = value.strip().lower()
    if value not in DBT_EXECUTIONS:
        raise ValueError(f"OLIST_DBT_EXECUTION={value!r}: expected one of {DBT_EXECUTIONS}")
    return value


def layer_build_operator_class() -> type[BaseOperator]:
    """The operator each layer's task uses: this module's, or the ECS one when chosen."""
    if dbt_execution() == "aws_ecs":
        from include.olist_risk.transform.ecs_layer_build import EcsDbtLayerBuildOperator

        return EcsDbtLayerBuildOperator
    return DbtLayerBuildOperator


class DbtLayerBuildOperator(BaseOperator):
    """`dbt build` of one layer's selection, for the run's batch, build prefix and snapshot."""

    template_fields = RUN_VALUE_FIELDS
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

    def layer_run(self, run_id: str) -> LayerRun:
        return LayerRun(
            layer=self.layer,
            select=self.select,
            raw_batch_id=self.raw_batch_id,
            build_prefix=self.build_prefix,
            snapshot_date=self.snapshot_date,
            batch_build_prefix=self.batch_build_prefix,
            code_version=self.code_version,
            run_id=run_id,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        runtime = load_runtime()
        try:
            return build_layer(
                # run_id is only written by the last layer's completion marker
                self.layer_run(context.get("run_id") or ""),
                lake=runtime.lake,
                settings=runtime.settings,
                credentials=runtime.credentials,
                log=self.log,
            )
        except LayerBuildFailed as failed:
            raise AirflowException(str(failed)) from None

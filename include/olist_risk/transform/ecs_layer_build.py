"""Each layer's `dbt build` on AWS ECS Fargate instead of the Airflow worker.

Chosen with `OLIST_DBT_EXECUTION=aws_ecs` (layer_build.py's `layer_build_operator_class`);
the default, `local`, keeps `DbtLayerBuildOperator` unchanged. At scale 10 a layer's dbt
build peaks at about 2.2 GiB and grows linearly with the data, more than an MWAA worker
can give (deploy/README.md, "Running dbt on ECS Fargate"); a Fargate task gets the memory
the task definition asks for.

Why the Amazon provider's `EcsRunTaskOperator` running this project's layer build, and not
Cosmos's `ExecutionMode.AWS_ECS` (`DbtBuildAwsEcsOperator`, the aws-samples
`mwaa-dbt-cosmos-ecs` pattern): Cosmos's operator runs a fixed `dbt build --select ...`
command in the container. This DAG's layer task is more than that command: it decides from
the lake whether the batch-scoped build is reused (then gold builds only its snapshot), turns
a retry into `--select result:error+ ... --state` from the previous try's run_results.json,
saves run_results.json back to the lake (the container's disk is gone when it stops) and
marks the batch build complete. All of that must run beside dbt, in the container, so the
container runs `build_layer` (layer_run.py), the very function the local operator runs, and
Cosmos would add nothing but a dependency: astronomer-cosmos is not in MWAA 3.3.1's
constraints (it would have to be resolved, shipped and kept in step), while the Amazon
provider is preinstalled there and already in the local pins.

The run values reach the container as environment variables in the ECS container overrides
(templated, so the rendered task shows them), under the same names the local path uses;
constants (the lake URI, tool paths) live in the task definition (deploy/cloudformation).
The container checks that it was built from the code the run expects (`OLIST_CODE_VERSION`)
and prints its result as its last log line, which this operator returns as the task's XCom.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

from include.olist_risk.transform.layer_run import RESULT_MARKER, RUN_VALUE_FIELDS

CONTAINER_COMMAND = ("python", "-m", "include.olist_risk.transform.layer_container")


def _setting(name: str, default: str | None = None) -> str | None:
    """`OLIST_<NAME>`, else the Airflow option `olist.<name>` (MWAA: AIRFLOW__OLIST__<NAME>)."""
    value = os.environ.get(f"OLIST_{name}") or os.environ.get(f"AIRFLOW__OLIST__{name}")
    return value.strip() if value and value.strip() else default


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class EcsSettings:
    """Where the layer tasks run: the stack's cluster, task definition, network and logs."""

    cluster: str
    task_definition: str
    subnets: list[str]
    security_groups: list[str]
    container: str = "dbt"
    log_group: str | None = None
    log_stream_prefix: str = "dbt"
    region: str | None = None

    @property
    def network_configuration(self) -> dict[str, Any]:
        return {
            "awsvpcConfiguration": {
                "subnets": list(self.subnets),
                "securityGroups": list(self.security_groups),
                "assignPublicIp": "DISABLED",
            }
        }


def ecs_settings() -> EcsSettings:
    """From the environment (set by the template on MWAA); raises naming what is missing."""
    required = {
        "ECS_CLUSTER": _setting("ECS_CLUSTER"),
        "ECS_TASK_DEFINITION": _setting("ECS_TASK_DEFINITION"),
        "ECS_SUBNETS": _setting("ECS_SUBNETS"),
        "ECS_SECURITY_GROUPS": _setting("ECS_SECURITY_GROUPS"),
    }
    missing = [f"OLIST_{name}" for name, value in required.items() if not value]
    if missing:
        raise ValueError(
            f"OLIST_DBT_EXECUTION=aws_ecs needs {', '.join(missing)} (or the Airflow options "
            "olist.<name>, which the template sets): see deploy/README.md"
        )
    return EcsSettings(
        cluster=required["ECS_CLUSTER"] or "",
        task_definition=required["ECS_TASK_DEFINITION"] or "",
        subnets=_split(required["ECS_SUBNETS"]),
        security_groups=_split(required["ECS_SECURITY_GROUPS"]),
        container=_setting("ECS_CONTAINER", "dbt") or "dbt",
        log_group=_setting("ECS_LOG_GROUP"),
        log_stream_prefix=_setting("ECS_LOG_STREAM_PREFIX", "dbt") or "dbt",
        region=_setting("ECS_REGION"),
    )


def container_overrides(
    *,
    container: str,
    layer: str,
    select: Sequence[str],
    run_values: dict[str, str],
) -> dict[str, Any]:
    """RunTask `overrides`: the layer build's command and the run's values as environment."""
    environment = {"OLIST_LAYER": layer, "OLIST_DBT_SELECT": json.dumps(list(select))}
    environment.update(run_values)
    return {
        "containerOverrides": [
            {
                "name": container,
                "command": [*CONTAINER_COMMAND, layer],
                "environment": [{"name": k, "value": v} for k, v in environment.items()],
            }
        ]
    }


def parse_result(lines: Sequence[str]) -> dict[str, Any] | None:
    """The layer's result from the container's last log lines (None if it printed none)."""
    for line in reversed(lines):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    return None


class EcsDbtLayerBuildOperator(EcsRunTaskOperator):
    """One layer's `dbt build` as an ECS Fargate task running `layer_container`.

    Takes the same arguments as `DbtLayerBuildOperator`; the run values are templated into
    the container overrides. A failed build fails the task with the container's last log
    lines (dbt's failure summary); the retry starts a new ECS task, which re-runs only what
    did not succeed (run_results.json in the lake), exactly as on the worker.
    """

    template_fields: Sequence[str] = (*EcsRunTaskOperator.template_fields, *RUN_VALUE_FIELDS)
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
        ecs: EcsSettings | None = None,
        **kwargs: Any,
    ) -> None:
        ecs = ecs or ecs_settings()
        kwargs.setdefault("awslogs_fetch_interval", timedelta(seconds=10))
        # the result is read from the log fetcher of this process, so no deferral
        kwargs.setdefault("deferrable", False)
        # dbt's failure summary and node table end the log: enough of it for the exception
        kwargs.setdefault("number_logs_exception", 60)
        if ecs.region:
            kwargs.setdefault("region_name", ecs.region)
        super().__init__(
            cluster=ecs.cluster,
            task_definition=ecs.task_definition,
            launch_type="FARGATE",
            network_configuration=ecs.network_configuration,
            container_name=ecs.container,
            awslogs_group=ecs.log_group,
            awslogs_region=ecs.region,
            awslogs_stream_prefix=ecs.log_stream_prefix if ecs.log_group else None,
            overrides=container_overrides(
                container=ecs.container,
                layer=layer,
                select=select,
                run_values={
                    "OLIST_RAW_BATCH_ID": raw_batch_id,
                    "OLIST_BUILD_PREFIX": build_prefix,
                    "OLIST_BATCH_BUILD_PREFIX": batch_build_prefix,
                    "OLIST_SNAPSHOT_DATE": snapshot_date,
                    "OLIST_CODE_VERSION": code_version,
                    "OLIST_RUN_ID": "{{ run_id }}",
                },
            ),
            **kwargs,
        )
        self.layer = layer
        self.select = list(select)
        self.raw_batch_id = raw_batch_id
        self.build_prefix = build_prefix
        self.snapshot_date = snapshot_date
        self.batch_build_prefix = batch_build_prefix
        self.code_version = code_version

    def execute(self, context: Any) -> dict[str, Any] | None:
        super().execute(context)
        if self.task_log_fetcher is None:
            return None
        result = parse_result(self.task_log_fetcher.get_last_log_messages(5))
        if result is None:
            self.log.warning("the container printed no %sline", RESULT_MARKER)
        return result

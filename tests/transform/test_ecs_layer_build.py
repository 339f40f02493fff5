"""OLIST_DBT_EXECUTION=aws_ecs: the layer tasks become ECS Fargate tasks; unset, nothing changes.

Offline: the DAG is parsed with and without the option, the ECS calls go to botocore's
Stubber on the real ECS model (moto's ECS never stops a task), the container's log is read
from a moto CloudWatch Logs server, and the container's entry point runs against a moto S3
lake with a stand-in dbt that writes run_results.json like dbt does.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from include.olist_risk.lake.layout import dbt_results_key
from include.olist_risk.transform.code_version import code_version
from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR
from include.olist_risk.transform.layer_build import (
    DbtLayerBuildOperator,
    dbt_execution,
    layer_build_operator_class,
)
from include.olist_risk.transform.layer_run import LAYERS
from tests.isolation import PROJECT_ROOT, use_moto_as_aws_default

DAG_FILE = PROJECT_ROOT / "dags" / "return_risk_feature_store.py"
ECS_ENV = {
    "OLIST_DBT_EXECUTION": "aws_ecs",
    "OLIST_ECS_CLUSTER": "olist-return-risk-dbt",
    "OLIST_ECS_TASK_DEFINITION": "olist-return-risk-dbt",
    "OLIST_ECS_SUBNETS": "subnet-0123456789abcdef1, subnet-0123456789abcdef2",
    "OLIST_ECS_SECURITY_GROUPS": "sg-0123456789abcdef0",
    "OLIST_ECS_LOG_GROUP": "airflow-olist-return-risk-dbt-ecs",
    "OLIST_ECS_REGION": "us-east-1",
}
RESOLVED = {
    "raw_batch_id": "20240101T000000-abc",
    "batch_build_prefix": "warehouse/batches/20240101T000000-abc/code-x/run=manual__1",
    "build_prefix": "warehouse/runs/manual__1",
    "code_version": "code-x",
    "snapshot_date": "2018-06-01",
}
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/olist-return-risk-dbt/0f1e2d3c4b5a"


@pytest.fixture
def clean_env(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ECS setting from the environment; a migrated metadata DB, as DagBag may use it (a
    parse before the session's migration would leave Airflow's engine on an empty file)."""
    for name in list(os.environ):
        if name.startswith(("OLIST_ECS_", "AIRFLOW__OLIST__")) or name == "OLIST_DBT_EXECUTION":
            monkeypatch.delenv(name)
    return monkeypatch


def _parse(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return DagBag(dag_folder=str(DAG_FILE))


def _layer_tasks(bag: Any) -> dict[str, Any]:
    assert bag.import_errors == {}
    dag = bag.dags["return_risk_feature_store"]
    return {t.task_id: t for t in dag.tasks if t.task_id.endswith(".dbt_build")}


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str) -> dict[str, str]:
        return RESOLVED

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _context() -> dict[str, Any]:
    return {"run_id": "manual__1", "ti": FakeTI()}


# ------------------------------------------------------------------------------ the option


def test_unset_the_layers_run_on_the_worker_as_before(clean_env: pytest.MonkeyPatch) -> None:
    assert dbt_execution() == "local"
    assert layer_build_operator_class() is DbtLayerBuildOperator
    tasks = _layer_tasks(_parse(clean_env, {}))
    assert sorted(tasks) == ["bronze.dbt_build", "gold.dbt_build", "silver.dbt_build"]
    assert {type(t) for t in tasks.values()} == {DbtLayerBuildOperator}
    clean_env.setenv("OLIST_DBT_EXECUTION", "local")
    assert layer_build_operator_class() is DbtLayerBuildOperator


def test_an_unknown_execution_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OLIST_DBT_EXECUTION", "kubernetes")
    with pytest.raises(ValueError, match="OLIST_DBT_EXECUTION='kubernetes'"):
        dbt_execution()


def test_aws_ecs_without_its_settings_fails_the_parse_naming_them(
    clean_env: pytest.MonkeyPatch,
) -> None:
    bag = _parse(clean_env, {"OLIST_DBT_EXECUTION": "aws_ecs", "OLIST_ECS_CLUSTER": "c"})
    (error,) = bag.import_errors.values()
    assert "OLIST_ECS_TASK_DEFINITION" in error and "OLIST_ECS_SUBNETS" in error
    assert "OLIST_ECS_CLUSTER," not in error


def test_aws_ecs_renders_one_fargate_task_per_layer_with_the_runs_values(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from include.olist_risk.transform.ecs_layer_build import EcsDbtLayerBuildOperator

    tasks = _layer_tasks(_parse(clean_env, ECS_ENV))
    assert sorted(tasks) == ["bronze.dbt_build", "gold.dbt_build", "silver.dbt_build"]
    for task_id, task in tasks.items():
        layer = task_id.split(".")[0]
        assert type(task) is EcsDbtLayerBuildOperator
        assert (task.cluster, task.task_definition) == ("olist-return-risk-dbt",) * 2
        assert task.launch_type == "FARGATE"
        assert task.network_configuration == {
            "awsvpcConfiguration": {
                "subnets": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
                "securityGroups": ["sg-0123456789abcdef0"],
                "assignPublicIp": "DISABLED",
            }
        }
        assert (task.awslogs_group, task.awslogs_stream_prefix, task.container_name) == (
            "airflow-olist-return-risk-dbt-ecs",
            "dbt",
            "dbt",
        )
        assert task.pool == "dbt" and task.retries >= 2
        assert task.select == LAYERS[layer]
        assert task.deferrable is False

        task.render_template_fields(_context())
        (override,) = task.overrides["containerOverrides"]
        assert override["name"] == "dbt"
        assert override["command"] == [
            "python",
            "-m",
            "include.olist_risk.transform.layer_container",
            layer,
        ]
        env = {e["name"]: e["value"] for e in override["environment"]}
        assert env == {
            "OLIST_LAYER": layer,
            "OLIST_DBT_SELECT": json.dumps(LAYERS[layer]),
            "OLIST_RAW_BATCH_ID": RESOLVED["raw_batch_id"],
            "OLIST_BUILD_PREFIX": RESOLVED["build_prefix"],
            "OLIST_BATCH_BUILD_PREFIX": RESOLVED["batch_build_prefix"],
            "OLIST_SNAPSHOT_DATE": RESOLVED["snapshot_date"],
            "OLIST_CODE_VERSION": RESOLVED["code_version"],
            "OLIST_RUN_ID": "manual__1",
        }
        # the same run values the worker's operator gets
        assert task.raw_batch_id == RESOLVED["raw_batch_id"]


# ------------------------------------------------------------------- the ECS calls, stubbed


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    use_moto_as_aws_default(monkeypatch, moto_endpoint)
    return moto_endpoint


def _container_log(endpoint: str, group: str, lines: list[str]) -> None:
    """What the awslogs driver would have written for the task (stream dbt/dbt/<task id>)."""
    import time

    import boto3

    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=endpoint)
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    stream = "dbt/dbt/" + TASK_ARN.rsplit("/", 1)[1]
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _operator(group: str) -> Any:
    from datetime import timedelta

    from include.olist_risk.transform.ecs_layer_build import EcsDbtLayerBuildOperator, EcsSettings

    return EcsDbtLayerBuildOperator(
        task_id="gold_build",
        layer="gold",
        select=LAYERS["gold"],
        raw_batch_id=RESOLVED["raw_batch_id"],
        build_prefix=RESOLVED["build_prefix"],
        snapshot_date=RESOLVED["snapshot_date"],
        batch_build_prefix=RESOLVED["batch_build_prefix"],
        code_version=RESOLVED["code_version"],
        ecs=EcsSettings(
            cluster="olist-return-risk-dbt",
            task_definition="olist-return-risk-dbt",
            subnets=["subnet-0123456789abcdef1"],
            security_groups=["sg-0123456789abcdef0"],
            log_group=group,
            region="us-east-1",
        ),
        awslogs_fetch_interval=timedelta(seconds=0.1),
        owner="data-platform",
    )


def _stub_run(op: Any, exit_code: int) -> Any:
    from botocore.stub import Stubber

    stubber = Stubber(op.client)
    stubber.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK_ARN}], "failures": []},
        {
            "cluster": "olist-return-risk-dbt",
            "taskDefinition": "olist-return-risk-dbt",
            "overrides": op.overrides,
            "startedBy": "data-platform",
            "launchType": "FARGATE",
            "networkConfiguration": op.network_configuration,
        },
    )
    stopped = {
        "tasks": [
            {
                "taskArn": TASK_ARN,
                "lastStatus": "STOPPED",
                "containers": [{"name": "dbt", "lastStatus": "STOPPED", "exitCode": exit_code}],
            }
        ],
        "failures": [],
    }
    asked = {"cluster": "olist-return-risk-dbt", "tasks": [TASK_ARN]}
    stubber.add_response("describe_tasks", stopped, asked)  # the tasks_stopped waiter
    stubber.add_response("describe_tasks", stopped, asked)  # the exit-code check
    stubber.activate()
    return stubber


def test_a_layer_runs_as_one_fargate_task_and_returns_the_containers_result(aws: str) -> None:
    group = "airflow-test-dbt-ecs-ok"
    result = {"layer": "gold", "reused": False, "nodes": 12, "full_parse": False, "seconds": 3.5}
    _container_log(
        aws,
        group,
        [
            "dbt build of gold for run manual__1",
            "node  status",
            f"OLIST_LAYER_RESULT {json.dumps(result)}",
        ],
    )
    op = _operator(group)
    context = _context()
    op.render_template_fields(context)
    stubber = _stub_run(op, exit_code=0)
    assert op.execute(context) == result
    stubber.assert_no_pending_responses()
    assert context["ti"].pushed["ecs_task_arn"] == TASK_ARN


def test_a_failed_build_fails_the_task_with_the_containers_last_lines(aws: str) -> None:
    from airflow.sdk.exceptions import AirflowException

    group = "airflow-test-dbt-ecs-fail"
    _container_log(
        aws,
        group,
        ["dbt build of gold: 1 node(s) failed", "model.olist_risk.fct_x: error: boom"],
    )
    op = _operator(group)
    context = _context()
    op.render_template_fields(context)
    stubber = _stub_run(op, exit_code=1)
    with pytest.raises(AirflowException, match=r"model\.olist_risk\.fct_x: error: boom"):
        op.execute(context)
    stubber.assert_no_pending_responses()


def test_killing_the_task_stops_the_fargate_task(aws: str) -> None:
    from botocore.stub import Stubber

    op = _operator("airflow-test-dbt-ecs-kill")
    op.arn = TASK_ARN
    stubber = Stubber(op.client)
    stubber.add_response(
        "stop_task",
        {"task": {"taskArn": TASK_ARN}},
        {"cluster": "olist-return-risk-dbt", "task": TASK_ARN, "reason": "Task killed by the user"},
    )
    with stubber:
        op.on_kill()
    stubber.assert_no_pending_responses()


# ------------------------------------------------------------------ the container's side


FAKE_DBT = textwrap.dedent(
    """\
    import json, os, sys
    from pathlib import Path

    args = sys.argv[1:]
    target = Path(args[args.index("--target-path") + 1])
    target.mkdir(parents=True, exist_ok=True)
    record = Path(os.environ["FAKE_DBT_RECORD"])
    calls = json.loads(record.read_text()) if record.exists() else []
    calls.append({"args": args, "batch": os.environ.get("OLIST_RAW_BATCH_ID"),
                  "build_root": os.environ.get("OLIST_BUILD_ROOT"),
                  "key": os.environ.get("AWS_ACCESS_KEY_ID")})
    record.write_text(json.dumps(calls))
    status = "error" if os.environ.get("FAKE_DBT_FAIL") == "1" else "success"
    results = {"elapsed_time": 1.0, "results": [
        {"unique_id": "model.olist_risk.fct_a", "status": "success", "execution_time": 0.5},
        {"unique_id": "model.olist_risk.fct_b", "status": status, "execution_time": 0.5,
         "message": "boom" if status == "error" else None}]}
    (target / "run_results.json").write_text(json.dumps(results))
    sys.exit(1 if status == "error" else 0)
    """
)


@pytest.fixture
def container(
    tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], Path, Any, str]:
    """The container's environment: task definition constants plus the run's overrides."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws)
    bucket = f"dbt-ecs-{os.getpid()}-{tmp_path.name[-12:].lower().replace('_', '-')}"
    s3.create_bucket(Bucket=bucket)
    dbt = tmp_path / "dbt"
    dbt.write_text(f"#!{sys.executable}\n{FAKE_DBT}")
    dbt.chmod(0o755)
    record = tmp_path / "calls.json"
    for name, value in {
        "OLIST_LAKE_URI": f"s3://{bucket}/lake",
        "OLIST_DBT_EXECUTABLE": str(dbt),
        "OLIST_DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "AWS_ENDPOINT_URL_S3": aws,
        "FAKE_DBT_RECORD": str(record),
    }.items():
        monkeypatch.setenv(name, value)
    env = {
        **os.environ,
        "OLIST_LAYER": "gold",
        "OLIST_DBT_SELECT": json.dumps(LAYERS["gold"]),
        "OLIST_RAW_BATCH_ID": RESOLVED["raw_batch_id"],
        "OLIST_BUILD_PREFIX": RESOLVED["build_prefix"],
        "OLIST_BATCH_BUILD_PREFIX": RESOLVED["batch_build_prefix"],
        "OLIST_SNAPSHOT_DATE": RESOLVED["snapshot_date"],
        "OLIST_CODE_VERSION": code_version(DBT_PROJECT_DIR),
        "OLIST_RUN_ID": "manual__1",
    }
    return env, record, s3, bucket


def test_the_container_builds_keeps_results_in_the_lake_and_a_retry_reruns_only_failures(
    container: tuple[dict[str, str], Path, Any, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from include.olist_risk.transform.layer_container import main

    env, record, s3, bucket = container
    key = "lake/" + dbt_results_key(RESOLVED["build_prefix"], "gold")

    monkeypatch.setenv("FAKE_DBT_FAIL", "1")
    assert main(["gold"], env) == 1
    out = capsys.readouterr().out
    assert "dbt build of gold: 1 node(s) failed" in out and "fct_b: error: boom" in out
    saved = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [r["status"] for r in saved["results"]] == ["success", "error"]

    monkeypatch.setenv("FAKE_DBT_FAIL", "0")
    assert main(["gold"], env) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("OLIST_LAYER_RESULT ")
    assert json.loads(last.removeprefix("OLIST_LAYER_RESULT "))["nodes"] == 2

    first, retry = json.loads(record.read_text())
    assert first["args"][:4] == ["build", "--select", "path:models/gold", "path:seeds"]
    assert "result:error+,path:models/gold" in retry["args"] and "--state" in retry["args"]
    # the run's values reach dbt under the names the worker's path uses; the task role's keys
    assert first["batch"] == RESOLVED["raw_batch_id"]
    assert first["build_root"] == f"s3://{bucket}/lake/{RESOLVED['build_prefix']}"
    assert first["key"] == "testing"
    # gold is the last layer: the batch build is marked complete for later runs
    complete = f"lake/{RESOLVED['batch_build_prefix']}/_complete.json"
    assert (
        json.loads(s3.get_object(Bucket=bucket, Key=complete)["Body"].read())["built_by_run"]
        == "manual__1"
    )


def test_a_full_refresh_starts_from_an_empty_run_folder_also_on_s3(
    container: tuple[dict[str, str], Path, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB cannot delete on S3, so dbt's full refresh there overwrites the partitions it
    writes and leaves the others: a run cleared after a corrected batch that covers fewer
    months would keep (and publish) its earlier try's later snapshots. The layer build empties
    the run's folder of the layer first (of the layer only), except for a retry of what
    failed, which builds on the earlier try's output."""
    from include.olist_risk.transform.layer_container import main

    env, _, s3, bucket = container
    env = {**env, "OLIST_SNAPSHOT_DATE": ""}
    gold = f"lake/{RESOLVED['build_prefix']}/gold/"
    earlier = gold + "fct_customer_return_risk_features/snapshot_date=2018-09-01/data_0.parquet"
    others = f"lake/{RESOLVED['build_prefix']}/_dbt/silver/run_results.json"

    def keys() -> set[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"lake/{RESOLVED['build_prefix']}/")
        return {item["Key"] for item in listed.get("Contents", [])}

    s3.put_object(Bucket=bucket, Key=earlier, Body=b"an earlier try's snapshot")
    s3.put_object(Bucket=bucket, Key=others, Body=b"{}")
    monkeypatch.setenv("FAKE_DBT_FAIL", "1")
    assert main(["gold"], env) == 1
    assert earlier not in keys() and others in keys()

    s3.put_object(Bucket=bucket, Key=earlier, Body=b"written by the failed try")
    monkeypatch.setenv("FAKE_DBT_FAIL", "0")
    assert main(["gold"], env) == 0
    assert earlier in keys()


def test_the_container_refuses_an_image_of_other_code_or_missing_values(
    container: tuple[dict[str, str], Path, Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from include.olist_risk.transform.layer_container import main

    env, record, _, _ = container
    assert main(["gold"], {**env, "OLIST_CODE_VERSION": "code-000000000000"}) == 2
    assert "build and push the image" in capsys.readouterr().out
    assert main(["gold"], {**env, "OLIST_RUN_ID": ""}) == 2
    assert "OLIST_RUN_ID" in capsys.readouterr().out
    assert main(["platinum"], env) == 2
    assert not record.exists(), "dbt must not run"


def test_the_container_entry_point_needs_no_airflow() -> None:
    """The image has only boto3 beside the standard library: no Airflow, DuckDB or pandas."""
    import subprocess

    probe = textwrap.dedent(
        """\
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"airflow", "duckdb", "pandas", "pyarrow", "s3fs"}:
                    raise ImportError(f"{name} is not in the dbt-ecs image")
        sys.meta_path.insert(0, Block())
        import include.olist_risk.transform.layer_container as c
        assert c.main(["--help"]) == 0
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "python -m include.olist_risk.transform.layer_container gold" in result.stdout

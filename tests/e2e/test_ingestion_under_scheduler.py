"""The ingestion DAG under a real scheduler (LocalExecutor), driven through the REST API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from include.olist_risk.lake.layout import POINTER_KEY
from include.olist_risk.olist.tables import TABLES
from tests.e2e.airflow_cluster import AirflowClient, AirflowCluster
from tests.ingestion.conftest import ROWS, write_batch

DAG_ID = "olist_ingestion"


def _reader(s3: Any, lake_uri: str):
    bucket, _, prefix = lake_uri.removeprefix("s3://").partition("/")

    def read(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=f"{prefix}/{key}".lstrip("/"))["Body"].read()

    return read


def _run_to_success(api: AirflowClient, note: str) -> dict:
    run = api.trigger(DAG_ID, conf={}, note=note)
    run = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=150)
    assert run["state"] == "success", api.run_report(DAG_ID, run["dag_run_id"])
    return run


@pytest.mark.e2e
def test_ingestion_publishes_to_s3_and_rerun_is_a_no_op(
    airflow_cluster: AirflowCluster,
    airflow_api: AirflowClient,
    e2e_landing: Path,
    e2e_s3: Any,
    e2e_env: dict,
) -> None:
    read = _reader(e2e_s3, e2e_env["OLIST_LAKE_URI"])
    write_batch(e2e_landing)
    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)

    first = _run_to_success(airflow_api, "first")

    tis = airflow_api.task_instances(DAG_ID, first["dag_run_id"])
    staged = sorted(ti["rendered_map_index"] for ti in tis if ti["task_id"] == "stage_table")
    assert staged == sorted(TABLES), tis
    assert {ti["state"] for ti in tis} == {"success"}, airflow_api.task_states(
        DAG_ID, first["dag_run_id"]
    )

    pointer_bytes = read(POINTER_KEY)
    pointer = json.loads(pointer_bytes)
    manifest = json.loads(read(pointer["manifest"]))
    assert {name: part["rows"] for name, part in manifest["tables"].items()} == {
        name: len(rows) for name, rows in ROWS.items()
    }
    publish = next(ti for ti in tis if ti["task_id"] == "publish_batch")
    publish_log = airflow_api.task_log(
        DAG_ID, first["dag_run_id"], "publish_batch", publish["try_number"]
    )
    assert f"published batch {pointer['batch_id']}" in publish_log, publish_log

    isolated = [
        line.split("\t")
        for line in (airflow_cluster.isolation_root / "isolation.log").read_text().splitlines()
    ]
    mine = [row for row in isolated if row[1] == first["dag_run_id"]]
    assert len(mine) == len(tis), "every task must start in its own empty directory"
    assert len({row[4] for row in mine}) == len(mine)

    second = _run_to_success(airflow_api, "same files again")

    assert second["dag_run_id"] != first["dag_run_id"]
    again = json.loads(read(POINTER_KEY))
    assert again["batch_id"] == pointer["batch_id"]
    assert read(POINTER_KEY) == pointer_bytes, "pointer was rewritten"

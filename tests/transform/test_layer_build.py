"""A layer is one dbt build (real dbt, real DuckDB, a local lake); a retry re-runs only what
did not succeed, and the task fails naming the failing model with dbt's own message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException

from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.layout import dbt_results_key
from include.olist_risk.lake.storage import LocalLake, read_json
from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR
from include.olist_risk.transform.layer_build import (
    DbtLayerBuildOperator,
    node_table,
    unfinished_nodes,
)
from tests.ingestion.conftest import write_batch

PREFIX = "warehouse/runs/test"
BROKEN = "select joined.no_such_column"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalLake, str, Path]:
    """A lake with the tiny batch, and a copy of the dbt project the tasks run."""
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml")
    )
    lake = LocalLake(tmp_path / "lake")
    batch_id = ingest_folder(LocalLake(write_batch(tmp_path / "landing")), lake)
    monkeypatch.setenv("OLIST_LAKE_URI", lake.root)
    monkeypatch.setenv("OLIST_DBT_PROJECT_DIR", str(project))
    return lake, batch_id, project


def build(layer: str, select: list[str], batch_id: str) -> DbtLayerBuildOperator:
    return DbtLayerBuildOperator(
        task_id=f"{layer}_build",
        layer=layer,
        select=select,
        raw_batch_id=batch_id,
        build_prefix=PREFIX,
        snapshot_date="",
    )


def test_a_layer_builds_in_one_dbt_process_and_logs_every_node(
    lake: tuple[LocalLake, str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    lake_, batch_id, _ = lake
    summary = build("bronze", ["path:models/bronze"], batch_id).execute({})
    log = "".join(capfd.readouterr())

    results = read_json(lake_, dbt_results_key(PREFIX, "bronze"))
    models = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("model.")}
    assert len(models) == 9 and all(".stg_" in model for model in models)
    assert summary["nodes"] == len(results["results"])
    assert unfinished_nodes(results) == []
    for model in models:
        assert lake_.exists(f"{PREFIX}/bronze/{model.rsplit('.', 1)[1]}.parquet")
        assert f"model {model.rsplit('.', 1)[1]} " in log
    assert "Concurrency: 2 threads" in log  # dbt's own lines are streamed to the log


def test_a_failed_model_fails_the_task_with_dbts_message_and_a_retry_reruns_only_it(
    lake: tuple[LocalLake, str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    lake_, batch_id, project = lake
    build("bronze", ["path:models/bronze"], batch_id).execute({})
    model = project / "models" / "silver" / "slv_orders.sql"
    good = model.read_text()
    model.write_text(good.replace("select * from final", BROKEN + " from final"))
    silver = build("silver", ["path:models/silver"], batch_id)

    with pytest.raises(AirflowException) as failed:
        silver.execute({})

    assert "model.olist_risk.slv_orders: error" in str(failed.value)
    assert "no_such_column" in str(failed.value)  # DuckDB's binder error, as dbt reported it
    first = read_json(lake_, dbt_results_key(PREFIX, "silver"))
    unfinished = set(unfinished_nodes(first))
    succeeded = {r["unique_id"] for r in first["results"]} - unfinished
    assert "model.olist_risk.slv_orders" in unfinished
    assert "model.olist_risk.slv_order_items" in unfinished  # downstream: skipped
    assert "model.olist_risk.slv_sellers" in succeeded

    model.write_text(good)
    capfd.readouterr()
    silver.execute({})
    log = "".join(capfd.readouterr())

    second = read_json(lake_, dbt_results_key(PREFIX, "silver"))
    rerun = {r["unique_id"] for r in second["results"]}
    assert {node for node in rerun if not node.startswith("operation.")} == unfinished
    assert unfinished_nodes(second) == []
    assert "re-running only what did not succeed last time" in log
    assert lake_.exists(f"{PREFIX}/silver/slv_orders.parquet")


def test_clearing_a_successful_layer_rebuilds_all_of_it(
    lake: tuple[LocalLake, str, Path],
) -> None:
    lake_, batch_id, _ = lake
    bronze = build("bronze", ["path:models/bronze"], batch_id)
    bronze.execute({})
    first = {r["unique_id"] for r in read_json(lake_, dbt_results_key(PREFIX, "bronze"))["results"]}

    bronze.execute({})

    second = read_json(lake_, dbt_results_key(PREFIX, "bronze"))["results"]
    assert {r["unique_id"] for r in second} == first


def test_the_node_table_shows_status_time_rows_and_the_failure_message() -> None:
    table = node_table(
        {
            "results": [
                {
                    "unique_id": "model.olist_risk.slv_orders",
                    "status": "error",
                    "execution_time": 1.234,
                    "adapter_response": {},
                    "message": "Binder Error: column x not found\nmore",
                },
                {
                    "unique_id": "test.olist_risk.unique_slv_orders_order_id.abc",
                    "status": "pass",
                    "execution_time": 0.05,
                    "adapter_response": {"rows_affected": 0},
                    "message": None,
                },
            ]
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == ["node", "status", "seconds", "rows", "message"]
    assert lines[1].split()[:4] == ["model", "slv_orders", "error", "1.23"]
    assert lines[1].endswith("Binder Error: column x not found")
    assert lines[2].split() == ["test", "unique_slv_orders_order_id.abc", "pass", "0.05", "0"]

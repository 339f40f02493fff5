"""A layer is one dbt build (real dbt, real DuckDB, a local lake); a retry re-runs only what
did not succeed, and the task fails naming the failing model with dbt's own message."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException

from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.layout import batch_build_prefix, dbt_results_key
from include.olist_risk.lake.storage import LocalLake, read_json, write_json
from include.olist_risk.transform.batch_build import choose_batch_build, mark_complete
from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR
from include.olist_risk.transform.layer_build import DbtLayerBuildOperator
from include.olist_risk.transform.layer_run import (
    BUILT_FROM,
    LAYERS,
    LayerRun,
    node_table,
    previous_results,
    unfinished_nodes,
)
from tests.dbt.compare import diff_rows
from tests.dbt.helpers import read_features
from tests.ingestion.conftest import write_batch

log = logging.getLogger(__name__)
PREFIX = "warehouse/runs/test"
BATCH_PREFIX = "warehouse/batches/test"
CODE = "code-test"
BROKEN = "select joined.no_such_column"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalLake, str, Path]:
    """A lake with the tiny batch; the tasks run the project with its parsed state."""
    lake = LocalLake(tmp_path / "lake")
    batch_id = ingest_folder(LocalLake(write_batch(tmp_path / "landing")), lake)
    monkeypatch.setenv("OLIST_LAKE_URI", lake.root)
    monkeypatch.setenv("OLIST_DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))
    return lake, batch_id, DBT_PROJECT_DIR


@pytest.fixture
def editable_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the dbt project a test may break, with the parsed state to start from."""
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("logs", ".user.yml"))
    monkeypatch.setenv("OLIST_DBT_PROJECT_DIR", str(project))
    return project


def build(
    layer: str,
    select: list[str],
    batch_id: str,
    *,
    prefix: str = PREFIX,
    batch_prefix: str = BATCH_PREFIX,
    snapshot: str = "",
) -> DbtLayerBuildOperator:
    return DbtLayerBuildOperator(
        task_id=f"{layer}_build",
        layer=layer,
        select=select,
        raw_batch_id=batch_id,
        build_prefix=prefix,
        batch_build_prefix=batch_prefix,
        code_version=CODE,
        snapshot_date=snapshot,
    )


def test_a_failed_model_fails_the_task_with_dbts_message_and_a_retry_reruns_only_it(
    lake: tuple[LocalLake, str, Path], editable_project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lake_, batch_id, _ = lake
    project = editable_project
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
    assert first[BUILT_FROM]["raw_batch_id"] == batch_id
    assert first[BUILT_FROM]["batch_build_prefix"] == BATCH_PREFIX

    model.write_text(good)
    capfd.readouterr()
    silver.execute({})
    log = "".join(capfd.readouterr())

    second = read_json(lake_, dbt_results_key(PREFIX, "silver"))
    rerun = {r["unique_id"] for r in second["results"]}
    assert {node for node in rerun if not node.startswith("operation.")} == unfinished
    assert unfinished_nodes(second) == []
    assert "re-running only what did not succeed last time" in log
    assert lake_.exists(f"{BATCH_PREFIX}/silver/slv_orders.parquet")


def test_a_layer_builds_in_one_dbt_process_logs_every_node_and_clearing_it_rebuilds_all(
    lake: tuple[LocalLake, str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    lake_, batch_id, _ = lake
    bronze = build("bronze", ["path:models/bronze"], batch_id)
    summary = bronze.execute({})
    log = "".join(capfd.readouterr())

    results = read_json(lake_, dbt_results_key(PREFIX, "bronze"))
    models = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("model.")}
    assert len(models) == 9 and all(".stg_" in model for model in models)
    assert summary["nodes"] == len(results["results"])
    assert unfinished_nodes(results) == []
    for model in models:
        assert lake_.exists(f"{BATCH_PREFIX}/bronze/{model.rsplit('.', 1)[1]}.parquet")
        assert f"model {model.rsplit('.', 1)[1]} " in log
    assert "Concurrency: 2 threads" in log  # dbt's own lines are streamed to the log

    bronze.execute({})  # cleared after success: everything again, not "only what failed"

    second = read_json(lake_, dbt_results_key(PREFIX, "bronze"))["results"]
    assert {r["unique_id"] for r in second} == {r["unique_id"] for r in results["results"]}


def test_a_run_on_a_built_batch_reuses_it_and_builds_only_its_own_snapshot(
    lake: tuple[LocalLake, str, Path],
) -> None:
    lake_, batch_id, _ = lake
    first_prefix, reused = choose_batch_build(lake_, batch_id, CODE, "first")
    assert not reused
    for layer in LAYERS:
        # reusable only once the last layer succeeded
        assert choose_batch_build(lake_, batch_id, CODE, "early") == (
            batch_build_prefix(batch_id, CODE, "early"),
            False,
        )
        build(layer, LAYERS[layer], batch_id, batch_prefix=first_prefix).execute(
            {"run_id": "first"}
        )
    assert choose_batch_build(lake_, batch_id, "code-other", "second")[1] is False
    batch_files = {key: Path(lake_.uri(key)).stat().st_mtime_ns for key in lake_.list(first_prefix)}

    prefix, reused = choose_batch_build(lake_, batch_id, CODE, "second")
    assert (prefix, reused) == (first_prefix, True)
    # another run that started before the first completed finishes now and moves the
    # batch's pointer: the build this run chose is still complete, still only read
    mark_complete(lake_, batch_id, CODE, batch_build_prefix(batch_id, CODE, "third"), "third")
    second = "warehouse/runs/second"
    summaries = {
        layer: build(
            layer,
            LAYERS[layer],
            batch_id,
            prefix=second,
            batch_prefix=prefix,
            snapshot="2017-04-01",
        ).execute({"run_id": "second"})
        for layer in LAYERS
    }

    assert summaries["bronze"]["nodes"] == summaries["silver"]["nodes"] == 0
    assert all(summary["reused"] for summary in summaries.values())
    ran = read_json(lake_, dbt_results_key(second, "gold"))["results"]
    assert {r["unique_id"] for r in ran if r["unique_id"].startswith("model.")} == {
        "model.olist_risk.fct_customer_return_risk_features",
        "model.olist_risk.customer_risk_tiers",
    }
    assert any(r["unique_id"].startswith("test.") for r in ran)  # their tests run too
    assert sorted(lake_.list(f"{second}/gold/fct_customer_return_risk_features")) == [
        f"{second}/gold/fct_customer_return_risk_features/snapshot_date=2017-04-01/data_0.parquet"
    ]
    # the reused build is read, never rewritten
    assert {
        key: Path(lake_.uri(key)).stat().st_mtime_ns for key in lake_.list(first_prefix)
    } == batch_files
    first_rows = read_features(lake_.uri(PREFIX), date(2017, 4, 1))
    assert len(first_rows) == 2
    assert diff_rows(first_rows, read_features(lake_.uri(second), date(2017, 4, 1))) == []


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


RESOLVED = LayerRun(
    layer="gold",
    select=LAYERS["gold"],
    raw_batch_id="batch-a",
    build_prefix=PREFIX,
    snapshot_date="2017-04-01",
    batch_build_prefix=BATCH_PREFIX,
    code_version=CODE,
    run_id="r1",
)


@pytest.mark.parametrize(
    "resolved_again",
    [
        {"raw_batch_id": "batch-b", "batch_build_prefix": "warehouse/batches/b"},
        {"code_version": "code-new", "batch_build_prefix": "warehouse/batches/new"},
        {"snapshot_date": "2017-03-01"},
    ],
)
def test_a_retry_after_the_run_resolved_other_inputs_rebuilds_the_whole_layer(
    tmp_path: Path, resolved_again: dict[str, str]
) -> None:
    """A run cleared after ingestion published another batch (or after a code change)
    resolves anew; what its earlier try left undone says nothing about the new inputs."""
    lake = LocalLake(tmp_path / "lake")
    key = dbt_results_key(PREFIX, "gold")
    failed = {"results": [{"unique_id": "model.olist_risk.x", "status": "error"}]}
    select = list(LAYERS["gold"])
    earlier = {**RESOLVED.built_from(), "select": select}
    write_json(lake, key, {**failed, BUILT_FROM: earlier})

    assert previous_results(lake, key, earlier, log) == failed
    retried = LayerRun(**{**RESOLVED.__dict__, **resolved_again})
    assert previous_results(lake, key, {**retried.built_from(), "select": select}, log) == {}
    # kept before the inputs were recorded: nothing to go by, so everything again
    write_json(lake, key, failed)
    assert previous_results(lake, key, earlier, log) == {}

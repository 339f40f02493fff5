"""Every DAG imports cleanly, is documented, owned and retried, and parses without side effects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.isolation import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"


@pytest.fixture(scope="module")
def dag_bag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dags_import_without_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}
    assert {"olist_ingestion"} <= set(dag_bag.dag_ids)


def test_every_dag_has_tags_owner_docs_and_retries(dag_bag) -> None:
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), (dag_id, task.task_id)
            assert task.retries >= 2, (dag_id, task.task_id)


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_FOLDER.glob("*.py")))
def test_dag_file_parses_without_running_dbt_or_touching_data(
    dag_file: str, tmp_path: Path
) -> None:
    """Parse in a fresh interpreter whose lake, landing and dbt point nowhere usable."""
    probe = (
        "import runpy, subprocess\n"
        "calls = []\n"
        "real = subprocess.Popen.__init__\n"
        "def spy(self, *a, **k):\n"
        "    calls.append(a[0] if a else k.get('args'))\n"
        "    return real(self, *a, **k)\n"
        "subprocess.Popen.__init__ = spy\n"
        f"runpy.run_path({str(DAGS_FOLDER / dag_file)!r})\n"
        "print('SUBPROCESSES', calls)\n"
    )
    missing = tmp_path / "nowhere"
    env = {
        **__import__("os").environ,
        "OLIST_DATA_DIR": str(missing),
        "OLIST_LAKE_URI": str(missing / "lake"),
        "OLIST_DBT_EXECUTABLE": str(missing / "dbt"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    spawned = result.stdout.split("SUBPROCESSES", 1)[1]
    assert "dbt" not in spawned and "soda" not in spawned
    assert not missing.exists()


def test_feature_store_publishes_only_after_the_gold_audit(dag_bag) -> None:
    dag = dag_bag.get_dag("return_risk_feature_store")

    assert dag.get_task("publish").upstream_task_ids == {"audit_gold"}
    assert dag.get_task("audit_gold").upstream_task_ids == {"gold.dbt_build"}
    assert dag.get_task("gold.dbt_build").upstream_task_ids == {"quality_gate"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"silver.dbt_build"}
    assert dag.get_task("silver.dbt_build").upstream_task_ids == {"bronze.dbt_build"}


def test_each_layer_is_one_dbt_build_of_exactly_its_models(dag_bag) -> None:
    dag = dag_bag.get_dag("return_risk_feature_store")
    builds = {t.task_id: t for t in dag.tasks if t.task_id.endswith(".dbt_build")}

    assert sorted(builds) == ["bronze.dbt_build", "gold.dbt_build", "silver.dbt_build"]
    assert builds["bronze.dbt_build"].select == ["path:models/bronze"]
    assert builds["silver.dbt_build"].select == ["path:models/silver"]
    assert builds["gold.dbt_build"].select == ["path:models/gold", "path:seeds"]
    assert {t.pool for t in builds.values()} == {"dbt"}

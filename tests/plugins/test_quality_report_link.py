"""The "Soda report" extra link of the quality gate and the gold audit, as the API server sees it.

The DAG is parsed by Airflow's DagBag and goes through Airflow's own serialization (JSON and
back, as the DAG processor stores it and the API server reads it), with the project's plugins
folder loaded (tests/isolation.py points Airflow at it): what the API server can render.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.isolation import PROJECT_ROOT

DAG_ID = "return_risk_feature_store"
RUN_ID = "scheduled__2018-05-01T00:00:00+00:00"
LINK = "Soda report"


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture(scope="module")
def serialized(dag: Any) -> tuple[dict[str, Any], Any]:
    """The DAG as stored (JSON) and as the API server deserializes it."""
    from airflow.serialization.serialized_objects import DagSerialization

    stored = json.loads(json.dumps(DagSerialization.to_dict(dag)))
    return stored, DagSerialization.from_dict(stored)


def _key(task_id: str) -> Any:
    from airflow.sdk.types import TaskInstanceKey

    return TaskInstanceKey(dag_id=DAG_ID, task_id=task_id, run_id=RUN_ID)


@pytest.mark.parametrize("task_id", ["quality_gate", "audit_gold"])
def test_the_gate_and_the_gold_audit_show_a_soda_report_link(
    serialized: tuple[dict[str, Any], Any], task_id: str
) -> None:
    _, dag = serialized
    assert dag.get_task(task_id).extra_links == [LINK]


@pytest.mark.parametrize("task_id", ["resolve_run", "publish", "refresh_catalog", "gold.dbt_build"])
def test_other_tasks_have_no_soda_report_link(
    serialized: tuple[dict[str, Any], Any], task_id: str
) -> None:
    """Registered for the gate's class and set on the audit's task only, not on every task."""
    _, dag = serialized
    assert LINK not in dag.get_task(task_id).extra_links


@pytest.mark.parametrize(
    ("base_url", "root"),
    [("", ""), ("http://airflow.example:8080/", ""), ("https://example.org/airflow/", "/airflow")],
)
def test_the_gates_link_is_computed_by_the_plugin_from_the_task_instance(
    serialized: tuple[dict[str, Any], Any],
    monkeypatch: pytest.MonkeyPatch,
    base_url: str,
    root: str,
) -> None:
    """The API server computes the gate's link itself (no XCom needed, so it works while the
    sensor still waits): the plugin's quality page of the run, under the base path only."""
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    _, dag = serialized
    gate = dag.get_task("quality_gate")
    url = gate.operator_extra_link_dict[LINK].get_link(gate, ti_key=_key("quality_gate"))
    # dag and run as query parameters, the run id's ':' and '+' percent-encoded.
    assert url == (
        f"{root}/olist/quality?dag=return_risk_feature_store"
        "&run=scheduled__2018-05-01T00%3A00%3A00%2B00%3A00"
    )


def test_the_audits_link_is_stored_by_the_worker_and_read_by_the_api_server(
    dag: Any, serialized: tuple[dict[str, Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A @task's class is shared by every @task, so the audit carries the link itself: the
    stored DAG names it with its XCom key, the worker writes the URL under that key at the end
    of the try (`finalize` calls `get_link` on the task's links), the API server reads it."""
    stored, deserialized = serialized
    tasks = {task["__var"]["task_id"]: task["__var"] for task in stored["dag"]["tasks"]}
    [worker_link] = dag.get_task("audit_gold").operator_extra_links
    assert tasks["audit_gold"]["_operator_extra_links"] == {LINK: worker_link.xcom_key}
    api_link = deserialized.get_task("audit_gold").operator_extra_link_dict[LINK]
    assert api_link.xcom_key == worker_link.xcom_key
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)  # served at the root
    url = worker_link.get_link(dag.get_task("audit_gold"), ti_key=_key("audit_gold"))
    assert url == (
        "/olist/quality?dag=return_risk_feature_store"
        "&run=scheduled__2018-05-01T00%3A00%3A00%2B00%3A00"
    )

"""The publish task: it reports what it published (its own pointer, not a listing of the lake),
refuses a snapshot that would mix batches, and leaves one run build folder behind."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.olist_risk.feature_store.tasks import publish
from include.olist_risk.lake.assets import FEATURE_STORE
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.layout import LATEST_BUILD_KEY, run_build_prefix
from include.olist_risk.lake.storage import LocalLake, read_json
from tests.feature_store.publish_helpers import CODE, build


def run_publish(run_id: str, batch: str, snapshot: str = "") -> tuple[list[dict], dict]:
    xcoms = {
        "resolve_run": {
            "snapshot_date": snapshot,
            "build_prefix": run_build_prefix(run_id),
            "code_version": CODE,
        },
        "quality_gate": {"raw_batch_id": batch, "batch_build_prefix": f"warehouse/batches/{batch}"},
    }
    events: dict[Any, SimpleNamespace] = defaultdict(SimpleNamespace)
    context = {
        "ti": SimpleNamespace(xcom_pull=lambda task_ids: xcoms[task_ids]),
        "run_id": run_id,
        "outlet_events": events,
    }
    return publish(context), events[FEATURE_STORE].extra


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "lake"))
    return LocalLake(tmp_path / "lake")


def test_a_full_refresh_reports_its_own_set_and_removes_the_build_it_superseded(
    lake: LocalLake, tmp_path: Path
) -> None:
    build(lake, "first", {f"2017-{m:02d}-01": m for m in range(2, 12)}, "batch-a", tmp_path)
    run_publish("first", "batch-a")
    build(lake, "second", {"2017-02-01": 5, "2017-03-01": 6}, "batch-b", tmp_path)

    summary, extra = run_publish("second", "batch-b")

    current = read_current_set(lake)
    assert [(s["snapshot_date"], s["rows"]) for s in summary] == [
        ("2017-02-01", 5),
        ("2017-03-01", 6),
    ]
    assert sorted(current["snapshots"]) == ["2017-02-01", "2017-03-01"]
    assert extra["publication_id"] == current["publication_id"]
    assert extra["current_snapshots"] == 2 and extra["raw_batch_id"] == "batch-b"
    assert read_json(lake, LATEST_BUILD_KEY)["build_prefixes"] == [
        "warehouse/batches/batch-b",
        run_build_prefix("second"),
    ]
    assert lake.list(run_build_prefix("first")) == []
    assert lake.list(run_build_prefix("second"))


def test_a_monthly_run_on_a_new_batch_fails_asking_for_a_full_refresh(
    lake: LocalLake, tmp_path: Path
) -> None:
    build(lake, "first", {"2017-02-01": 1, "2017-03-01": 2}, "batch-a", tmp_path)
    run_publish("first", "batch-a")
    before = read_current_set(lake)
    build(lake, "monthly", {"2017-03-01": 4}, "batch-b", tmp_path)

    with pytest.raises(AirflowFailException, match="full refresh"):
        run_publish("monthly", "batch-b", snapshot="2017-03-01")

    assert read_current_set(lake) == before

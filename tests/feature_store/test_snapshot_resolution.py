"""Which snapshot a run builds: the monthly interval ending at S builds S (DESIGN.md, flow 3)."""

from __future__ import annotations

import logging
import runpy
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.utils.types import DagRunType

from include.olist_risk.feature_store.resolve import (
    SnapshotOutsideData,
    resolve_run,
    snapshot_for_run,
)
from include.olist_risk.ingestion.coverage import BatchCoverage
from tests.isolation import PROJECT_ROOT


def test_the_interval_ending_at_a_month_start_builds_that_month() -> None:
    assert snapshot_for_run(datetime(2018, 6, 1, tzinfo=UTC), None) == "2018-06-01"


def test_the_snapshot_date_parameter_overrides_the_interval() -> None:
    assert snapshot_for_run(datetime(2018, 6, 1, tzinfo=UTC), "2017-02-01") == "2017-02-01"


@pytest.mark.parametrize(
    ("interval_end", "override", "message"),
    [
        (datetime(2018, 6, 1, 12, tzinfo=UTC), None, "is not a month start"),
        (datetime(2018, 6, 2, tzinfo=UTC), None, "must be a month start .*'2018-06-02'"),
        (None, "2018-06-15", "must be a month start .*'2018-06-15'"),
        (None, "2018-02-30", "must be a month start .*'2018-02-30'"),
        (None, "2018-13-01", "must be a month start .*'2018-13-01'"),
        (None, None, "nothing to build"),
    ],
)
def test_a_run_that_is_not_for_a_month_start_is_refused(
    interval_end: datetime | None, override: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        snapshot_for_run(interval_end, override)


def test_each_run_builds_under_its_own_prefix_with_a_safe_name() -> None:
    context = {"run_id": "manual__2018-06-01T00:00:00+00:00", "data_interval_end": None}
    run = resolve_run(context, {"full_refresh": True})

    assert run["snapshot_date"] == ""
    assert run["build_prefix"] == "warehouse/runs/manual__2018-06-01T00_00_00_00_00"


# ----------------------------------------------------------------- snapshots only where data is

# Included purchases 2017-01-05 .. 2017-03-04: snapshots 2017-02-01 .. 2017-04-01.
COVERAGE = BatchCoverage("b1", datetime(2017, 1, 5, 10), datetime(2017, 3, 4, 9))


def _context(run_type: str, interval_end: datetime | None) -> dict:
    return {
        "run_id": f"{run_type}__x",
        "data_interval_end": interval_end,
        "dag_run": SimpleNamespace(run_type=DagRunType(run_type)),
    }


@pytest.mark.parametrize("snapshot", ["2017-02-01", "2017-03-01", "2017-04-01"])
@pytest.mark.parametrize("run_type", ["scheduled", "manual", "backfill"])
def test_a_run_inside_the_batch_range_builds_its_snapshot(run_type: str, snapshot: str) -> None:
    end = datetime.fromisoformat(snapshot).replace(tzinfo=UTC)
    run = resolve_run(_context(run_type, end), {}, COVERAGE)

    assert run["snapshot_date"] == snapshot
    assert run["covered_snapshots"] == ["2017-02-01", "2017-04-01"]


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
@pytest.mark.parametrize(
    ("interval_end", "reason"),
    [
        # unpausing the DAG years after the data ends schedules the latest month
        (datetime(2026, 12, 1, tzinfo=UTC), "is after the last month raw batch b1 covers"),
        (datetime(2017, 5, 1, tzinfo=UTC), "so its last snapshot is 2017-04-01"),
        # a backfill starting before the data: the month of the first purchase has no rows
        (datetime(2017, 1, 1, tzinfo=UTC), "is not after the earliest included purchase"),
    ],
)
def test_a_scheduled_run_outside_the_batch_range_is_skipped_with_the_reason(
    run_type: str, interval_end: datetime, reason: str
) -> None:
    with pytest.raises(AirflowSkipException, match=reason) as skipped:
        resolve_run(_context(run_type, interval_end), {"snapshot_date": None}, COVERAGE)

    assert "nothing built or published" in str(skipped.value)
    assert "2017-02-01 .. 2017-04-01" in str(skipped.value)


@pytest.mark.parametrize(
    ("run_type", "interval_end", "snapshot_date"),
    [
        ("manual", None, "2031-01-01"),  # observed: built and published
        ("manual", None, "2017-05-01"),
        ("manual", None, "2017-01-01"),
        ("manual", datetime(2026, 12, 1, tzinfo=UTC), None),  # manual run with a logical date
        ("scheduled", datetime(2017, 3, 1, tzinfo=UTC), "2031-01-01"),  # asked for explicitly
    ],
)
def test_a_run_a_person_asked_for_outside_the_batch_range_is_refused(
    run_type: str, interval_end: datetime | None, snapshot_date: str | None
) -> None:
    with pytest.raises(
        SnapshotOutsideData, match=r"^refused: snapshot .* 2017-02-01 \.\. 2017-04-01"
    ):
        resolve_run(_context(run_type, interval_end), {"snapshot_date": snapshot_date}, COVERAGE)


def test_full_refresh_with_a_snapshot_date_is_contradictory() -> None:
    with pytest.raises(ValueError, match=r"contradictory parameters: full_refresh .*2018-06-01"):
        resolve_run(
            _context("manual", None),
            {"full_refresh": True, "snapshot_date": "2018-06-01"},
            COVERAGE,
        )


def test_a_full_refresh_builds_the_batch_range_unless_the_batch_has_no_included_orders() -> None:
    params = {"full_refresh": True, "snapshot_date": None}
    run = resolve_run(_context("manual", None), params, COVERAGE)
    assert run["snapshot_date"] == ""
    assert run["covered_snapshots"] == ["2017-02-01", "2017-04-01"]

    with pytest.raises(SnapshotOutsideData, match="has no included orders"):
        resolve_run(_context("manual", None), params, BatchCoverage("b1", None, None))


def test_the_task_skips_or_fails_on_the_batch_in_the_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The resolve_run task reads the current batch's coverage from the lake itself."""
    from include.olist_risk.feature_store.tasks import resolve
    from tests.dbt.helpers import make_lake
    from tests.ingestion.conftest import write_batch

    built = make_lake(tmp_path, write_batch)  # the same purchases as COVERAGE
    monkeypatch.setenv("OLIST_LAKE_URI", built.lake_root)

    scheduled = {**_context("scheduled", datetime(2026, 12, 1, tzinfo=UTC)), "params": {}}
    with caplog.at_level(logging.WARNING), pytest.raises(AirflowSkipException):
        resolve(scheduled)
    assert "snapshot 2026-12-01 is after the last month raw batch" in caplog.text

    manual = {**_context("manual", None), "params": {"snapshot_date": "2031-01-01"}}
    with pytest.raises(AirflowFailException, match="refused: snapshot 2031-01-01"):
        resolve(manual)


def test_a_skipped_resolve_run_skips_the_whole_run_and_every_param_is_documented() -> None:
    """Every other task waits (all_success) on resolve_run, directly or not, so its skip
    reaches publish: nothing is published and the run ends as success, not failed."""
    dag = runpy.run_path(str(PROJECT_ROOT / "dags" / "return_risk_feature_store.py"))[
        "return_risk_feature_store"
    ]()
    resolve_task = dag.get_task("resolve_run")
    downstream = {task.task_id for task in resolve_task.get_flat_relatives(upstream=False)}

    assert downstream == {task.task_id for task in dag.tasks} - {"resolve_run"}
    assert {"publish", "refresh_catalog"} <= downstream
    assert {task.trigger_rule for task in dag.tasks} == {"all_success"}
    for name in (
        "snapshot_date",
        "full_refresh",
        "quality_timeout_minutes",
        "quality_poke_seconds",
    ):
        assert dag.params.get_param(name).description, name

"""Which snapshot a feature-store run builds, and where its intermediate layers go.

A run builds only snapshots the current raw batch has data for (`ingestion/coverage.py`):
from the first month start after its earliest included purchase to the first month start
after its latest, the range a full refresh builds. FEATURES.md section 2 lets a one-snapshot
dbt build go past that range (its rows are then the last month's customers, ageing); the DAG
does not, since such a snapshot describes months no delivery has reached and would publish
rows for them (issue 11, item 4). A snapshot outside the range is

- skipped, with the reason in the task log, when the schedule (or a backfill over a range of
  months) asked for it: its month has no data yet, which is no failure;
- refused when a person asked for it (a manual trigger, or an explicit `snapshot_date`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from include.olist_risk.ingestion.coverage import BatchCoverage, SnapshotOutsideData, check_covered
from include.olist_risk.lake.layout import run_build_prefix, snapshot_date


def snapshot_for_run(data_interval_end: datetime | None, override: str | None) -> str:
    """The run's snapshot S: the `snapshot_date` parameter if set, else the interval's end.

    A monthly interval ending at month start S builds S; anything else is a mistake that
    would silently build the wrong month, so it is refused.
    """
    if override:
        return snapshot_date(str(override))
    if data_interval_end is None:
        raise ValueError("no data interval and no snapshot_date parameter: nothing to build")
    if (data_interval_end.hour, data_interval_end.minute, data_interval_end.second) != (0, 0, 0):
        raise ValueError(f"data interval end {data_interval_end} is not a month start")
    return snapshot_date(data_interval_end.date().isoformat())


def requested_by_a_person(context: dict[str, Any], params: dict[str, Any]) -> bool:
    """A manual trigger or an explicit snapshot_date, as opposed to the schedule or a backfill."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return bool(params.get("snapshot_date")) or str(getattr(run_type, "value", run_type)) == (
        "manual"
    )


def resolve_run(
    context: dict[str, Any], params: dict[str, Any], coverage: BatchCoverage | None = None
) -> dict[str, Any]:
    """Everything the run's tasks need to agree on, decided once at the start of the run.

    With `coverage`, a snapshot outside it raises AirflowSkipException (schedule, backfill:
    every downstream task is skipped, nothing is published) or SnapshotOutsideData (a
    ValueError: the run fails) when a person asked for it.
    """
    full_refresh = bool(params.get("full_refresh"))
    if full_refresh and params.get("snapshot_date"):
        # Building everything would silently ignore the date, building one would ignore
        # full_refresh: neither is what was asked, so ask again.
        raise ValueError(
            f"contradictory parameters: full_refresh rebuilds every snapshot of the batch, "
            f"snapshot_date={params['snapshot_date']} asks for one; set only one of them"
        )
    snapshot = (
        ""
        if full_refresh
        else snapshot_for_run(context.get("data_interval_end"), params.get("snapshot_date"))
    )
    if coverage is not None:
        try:
            check_covered(snapshot, coverage)
        except SnapshotOutsideData as outside:
            if requested_by_a_person(context, params):
                raise SnapshotOutsideData(
                    f"refused: {outside}. Ask for a snapshot in that range, or publish a batch "
                    "that covers this one with the olist_ingestion DAG first"
                ) from None
            raise AirflowSkipException(
                f"skipped, nothing built or published: {outside}. The data has not reached "
                "this month; once a batch that covers it is published, clear this run to build it"
            ) from None
    run: dict[str, Any] = {
        "snapshot_date": snapshot,
        "build_prefix": run_build_prefix(context["run_id"]),
    }
    if coverage is not None:
        run["covered_snapshots"] = [str(coverage.first_snapshot), str(coverage.last_snapshot)]
    return run

"""Which snapshot a feature-store run builds, and where its intermediate layers go."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from include.olist_risk.lake.layout import run_build_prefix


def snapshot_for_run(data_interval_end: datetime | None, override: str | None) -> str:
    """The run's snapshot S: the `snapshot_date` parameter if set, else the interval's end.

    A monthly interval ending at month start S builds S; anything else is a mistake that
    would silently build the wrong month, so it is refused.
    """
    if override:
        snapshot = date.fromisoformat(str(override))
    elif data_interval_end is not None:
        if (data_interval_end.hour, data_interval_end.minute, data_interval_end.second) != (
            0,
            0,
            0,
        ):
            raise ValueError(f"data interval end {data_interval_end} is not a month start")
        snapshot = data_interval_end.date()
    else:
        raise ValueError("no data interval and no snapshot_date parameter: nothing to build")
    if snapshot.day != 1:
        raise ValueError(f"snapshot_date {snapshot} is not the first day of a month")
    return snapshot.isoformat()


def resolve_run(context: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Everything the run's tasks need to agree on, decided once at the start of the run."""
    full_refresh = bool(params.get("full_refresh"))
    snapshot = (
        ""
        if full_refresh
        else snapshot_for_run(context.get("data_interval_end"), params.get("snapshot_date"))
    )
    return {"snapshot_date": snapshot, "build_prefix": run_build_prefix(context["run_id"])}

"""Which snapshot a run builds: the monthly interval ending at S builds S (DESIGN.md, flow 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.olist_risk.feature_store.resolve import resolve_run, snapshot_for_run


def test_the_interval_ending_at_a_month_start_builds_that_month() -> None:
    assert snapshot_for_run(datetime(2018, 6, 1, tzinfo=UTC), None) == "2018-06-01"


def test_the_snapshot_date_parameter_overrides_the_interval() -> None:
    assert snapshot_for_run(datetime(2018, 6, 1, tzinfo=UTC), "2017-02-01") == "2017-02-01"


@pytest.mark.parametrize(
    ("interval_end", "override", "message"),
    [
        (datetime(2018, 6, 1, 12, tzinfo=UTC), None, "is not a month start"),
        (datetime(2018, 6, 2, tzinfo=UTC), None, "is not the first day of a month"),
        (None, "2018-06-15", "is not the first day of a month"),
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

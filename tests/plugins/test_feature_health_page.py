"""The Feature store page's feature health: null rate and PSI per feature over snapshots, as
small SVG plots and as JSON, read from the statistics files published with the snapshots.

The lake is filled by the pipeline's own code: the audit's statistics, then publish."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.olist_risk.feature_store.health import HealthThresholds, audit_feature_health
from include.olist_risk.feature_store.publish import MODEL_DIR, publish_snapshots
from include.olist_risk.lake.catalog import read_current_set, sql_string
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.storage import LocalLake
from tests.plugins.test_feature_store_plugin import (
    _bearer,
    _token,
    auth_config,  # noqa: F401  (fixtures: Airflow's auth manager, as the other plugin tests)
    metadata_db,  # noqa: F401
    server,  # noqa: F401
)

BUILD = "warehouse/runs/health"
# Snapshot -> the `amount` column: 20 rows each; the second has 5 nulls (25%), the third moved
# far above the second's values.
AMOUNTS = {
    "2017-01-01": [str(i) for i in range(20)],
    "2017-02-01": [str(i) for i in range(15)] + ["null"] * 5,
    "2017-03-01": [str(i + 100) for i in range(20)],
}


def _publish(lake: LocalLake, scratch: Path, *, with_stats: bool) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    with connect() as con:
        for snapshot, amounts in AMOUNTS.items():
            local = scratch / f"{snapshot}.parquet"
            con.execute(
                f"copy (select 'c' || i as customer_unique_id, "
                f"cast([{', '.join(amounts)}][i + 1] as double) as amount, 'SP' as state "
                f"from range(20) t(i)) to {sql_string(str(local))} (format parquet)"
            )
            lake.put_file(local, f"{BUILD}/{MODEL_DIR}/snapshot_date={snapshot}/data_0.parquet")
    if with_stats:
        # Twenty rows a snapshot: warn on them, as a larger store would.
        thresholds = HealthThresholds(warn_min_rows=20)
        audit_feature_health(lake, BUILD, full_refresh=True, thresholds=thresholds)
    publish_snapshots(
        lake, BUILD, raw_batch_id="b", version="c", run_id="health", full_refresh=True
    )


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "lake"))
    lake = LocalLake(tmp_path / "lake")
    _publish(lake, tmp_path / "scratch", with_stats=True)
    return lake


class _Plots(HTMLParser):
    """The `svg.plot` elements of a page and the text of each one's <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self._in_plot = self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and "plot" in (dict(attrs).get("class") or "").split():
            self._in_plot = True
            self.titles.append("")
        self._in_title = self._in_plot and tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_plot = self._in_plot and tag != "svg"
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles[-1] += data


def _get(client: TestClient, path: str) -> Any:
    response = client.get(path, headers=_bearer(_token(client, "analyst")))
    assert response.status_code == 200, response.text[:2000]
    return response


def test_the_json_lists_null_rate_and_psi_per_feature_over_snapshots(
    lake: LocalLake,
    server: TestClient,  # noqa: F811
) -> None:
    health = _get(server, "/olist/api/feature-health").json()

    assert health["snapshots"] == list(AMOUNTS)
    amount = health["features"]["amount"]
    assert amount["null_rate"] == [0.0, 0.25, 0.0]  # 5 of 20 rows null, by construction
    assert amount["psi"][0] is None  # the first snapshot has no previous one
    assert amount["psi"][2] > 0.25 and health["thresholds"]["psi_warn"] == 0.25
    assert health["features"]["state"] == {"null_rate": [0.0, 0.0, 0.0], "psi": [None, 0.0, 0.0]}
    assert any("2017-03-01, feature amount: PSI" in line for line in health["warnings"])
    assert server.get("/olist/api/feature-health").status_code == 401


def test_the_page_plots_each_feature_from_the_statistics_not_the_table(
    lake: LocalLake,
    server: TestClient,  # noqa: F811
) -> None:
    # The snapshot files are gone: whatever the page plots comes from the statistics files.
    for entry in read_current_set(lake)["snapshots"].values():
        (lake.path / entry["key"]).unlink()

    plots = _Plots()
    plots.feed(_get(server, "/olist/feature-store").text)

    span = "3 snapshots, 2017-01-01 to 2017-03-01"
    assert sorted(plots.titles) == sorted(
        [
            f"amount: null rate over {span}",
            f"amount: PSI against the previous snapshot over {span}",
            f"state: null rate over {span}",
            f"state: PSI against the previous snapshot over {span}",
        ]
    )


def test_a_set_published_without_statistics_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: TestClient,  # noqa: F811
) -> None:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "old-lake"))
    _publish(LocalLake(tmp_path / "old-lake"), tmp_path / "scratch", with_stats=False)

    page = _get(server, "/olist/feature-store").text
    assert "No feature statistics in the current set" in page and 'class="plot"' not in page
    assert _get(server, "/olist/api/feature-health").json()["snapshots"] == []


def test_a_plot_breaks_where_a_value_is_missing_and_marks_the_threshold() -> None:
    from olist_feature_store.pages import plot

    svg = plot([None, 0.5, 1.0, None, 0.2], "x: PSI", top=1.0, threshold=0.25)
    assert svg.startswith('<svg class="plot"') and "<title>x: PSI</title>" in svg
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3  # 0.5-1.0 joined; 0.2 alone
    assert svg.count("<line") == 1

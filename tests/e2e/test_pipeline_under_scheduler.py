"""Both DAGs under a real scheduler, driven through the REST API like a client.

The tests run in order on one cluster (one Airflow start for all), each building on what the
previous ones left, like one session of a user: ingestion publishes the batch, a backfill
publishes its snapshots, a gate scenario adds a run that failed a Soda check, and a browser
then finds both in the plugin's pages.

Data: the tiny hand-written batch (tests/ingestion/conftest.py). Its included orders are
o1 (person u1, 2017-01-05), o2 (u1, 2017-02-06) and o3 (u2, 2017-03-04), so by FEATURES.md
section 2 snapshot 2017-02-01 has 1 row (u1), 2017-03-01 has 1 (u1) and 2017-04-01 has 2.
The batch covers 2017-02-01 .. 2017-04-01 (the range of its full refresh): runs for later
months have no data and are skipped (issue 11, item 4).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import POINTER_KEY, report_prefix, run_build_prefix
from include.olist_risk.lake.storage import S3Lake, read_json
from include.olist_risk.olist.tables import TABLES
from tests.dbt.compare import diff_rows
from tests.dbt.helpers import make_lake, read_features
from tests.dev.sockets import listening_addresses, process_tree
from tests.e2e.airflow_cluster import ADMIN_PASSWORD, ADMIN_USER, AirflowClient, AirflowCluster
from tests.e2e.browser import chromium, chromium_executable, log_in
from tests.ingestion.conftest import ROWS, write_batch

DAG_ID = "return_risk_feature_store"
INGESTION = "olist_ingestion"
BACKFILLED = {
    "2017-02-01": 1,
    "2017-03-01": 1,
    "2017-04-01": 2,
}
BEYOND_THE_DATA = ["2017-05-01", "2017-06-01", "2017-07-01"]


@pytest.fixture(scope="module")
def lake(e2e_s3: Any, e2e_env: dict) -> S3Lake:
    return S3Lake(e2e_env["OLIST_LAKE_URI"], e2e_s3)


@pytest.fixture(scope="module")
def full_refresh(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny batch's features from one plain local `dbt build` (every snapshot)."""
    local = make_lake(tmp_path_factory.mktemp("full_refresh"), write_batch)
    local.dbt("build")
    return read_features(local.warehouse)


@pytest.fixture(scope="module")
def credentials(moto_endpoint: str) -> S3Credentials:
    return S3Credentials("testing", "testing", endpoint_url=moto_endpoint)


def run_ingestion(api: AirflowClient, note: str) -> dict:
    api.wait_for_dag(INGESTION)
    api.unpause(INGESTION)
    run = api.trigger(INGESTION, conf={}, note=note)
    run = api.wait_for_run(INGESTION, run["dag_run_id"], timeout=240)
    assert run["state"] == "success", api.run_report(INGESTION, run["dag_run_id"])
    return run


def ingest(api: AirflowClient, landing: Path, lake: S3Lake, break_with=None) -> str:
    """Publish the tiny batch (optionally broken) through the ingestion DAG."""
    write_batch(landing)
    if break_with:
        break_with(landing)
    run_ingestion(api, "broken" if break_with else "tiny batch")
    return read_json(lake, POINTER_KEY)["batch_id"]


# A breakage that passes ingestion (well-typed text, every reference resolves) and only the
# silver contracts know to be wrong: a value outside the business vocabulary.
def unknown_order_status(landing: Path) -> None:
    orders = landing / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text().replace("o3,c3,canceled,", "o3,c3,teleported,"))


STATUS_CHECK = "order_status in (delivered, shipped, canceled,"


def current_files(lake: S3Lake) -> dict[str, str]:
    """snapshot -> the URI of its file in the current set (the pointer's list)."""
    current = read_current_set(lake) or {"snapshots": {}}
    return {snapshot: lake.uri(entry["key"]) for snapshot, entry in current["snapshots"].items()}


def published(lake: S3Lake, credentials: S3Credentials) -> dict[str, list[tuple]]:
    """snapshot -> its published rows, read straight from the Parquet the pointer lists."""
    snapshots = {}
    with connect(credentials=credentials) as con:
        for snapshot, uri in current_files(lake).items():
            snapshots[snapshot] = con.execute(
                "select * exclude (snapshot_date) from read_parquet(?) order by customer_unique_id",
                [uri],
            ).fetchall()
    return snapshots


def wait_for_task_state(api: AirflowClient, run_id: str, task_id: str, state: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = api.task_states(DAG_ID, run_id)
        if states.get(task_id) == state:
            return
        assert api.dag_run(DAG_ID, run_id)["state"] in ("queued", "running"), api.run_report(
            DAG_ID, run_id
        )
        time.sleep(3)
    raise AssertionError(f"{task_id} never reached {state}: {api.task_states(DAG_ID, run_id)}")


def gold_states(api: AirflowClient, run_id: str) -> set:
    states = api.task_states(DAG_ID, run_id)
    return {state for task, state in states.items() if task.startswith(("gold.", "publish"))}


@pytest.mark.e2e
def test_ingestion_publishes_to_s3_and_rerun_is_a_no_op(
    airflow_cluster: AirflowCluster, airflow_api: AirflowClient, e2e_landing: Path, lake: S3Lake
) -> None:
    write_batch(e2e_landing)

    first = run_ingestion(airflow_api, "first")

    tis = airflow_api.task_instances(INGESTION, first["dag_run_id"])
    staged = sorted(ti["rendered_map_index"] for ti in tis if ti["task_id"] == "stage_table")
    assert staged == sorted(TABLES), tis
    assert {ti["state"] for ti in tis} == {"success"}, airflow_api.task_states(
        INGESTION, first["dag_run_id"]
    )
    pointer_bytes = lake.read_bytes(POINTER_KEY)
    pointer = json.loads(pointer_bytes)
    manifest = read_json(lake, pointer["manifest"])
    assert {name: part["rows"] for name, part in manifest["tables"].items()} == {
        name: len(rows) for name, rows in ROWS.items()
    }
    publish = next(ti for ti in tis if ti["task_id"] == "publish_batch")
    publish_log = airflow_api.task_log(
        INGESTION, first["dag_run_id"], "publish_batch", publish["try_number"]
    )
    assert f"published batch {pointer['batch_id']}" in publish_log, publish_log
    isolated = [
        line.split("\t")
        for line in (airflow_cluster.isolation_root / "isolation.log").read_text().splitlines()
    ]
    mine = [row for row in isolated if row[1] == first["dag_run_id"]]
    assert len(mine) == len(tis), "every task must start in its own empty directory"
    assert len({row[4] for row in mine}) == len(mine)

    second = run_ingestion(airflow_api, "same files again")

    assert second["dag_run_id"] != first["dag_run_id"]
    assert lake.read_bytes(POINTER_KEY) == pointer_bytes, "pointer was rewritten"


@pytest.mark.e2e
def test_a_six_month_backfill_publishes_what_a_full_refresh_builds(
    airflow_cluster: AirflowCluster,
    airflow_api: AirflowClient,
    lake: S3Lake,
    credentials: S3Credentials,
    full_refresh: dict,
) -> None:
    # Local is local (issue 11, item 7): every server of the cluster, started as `make
    # airflow` starts them, listens on 127.0.0.1 only (API server, log servers).
    servers = {
        ("127.0.0.1", airflow_cluster.port),
        ("127.0.0.1", int(airflow_cluster.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"])),
    }
    deadline = time.monotonic() + 120
    while True:
        listening = listening_addresses(
            process_tree(process.pid for process in airflow_cluster.components.processes.values())
        )
        if servers <= listening or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert servers <= listening, listening
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening
    # The batch the ingestion test above published is the current one.
    batch_id = read_json(lake, POINTER_KEY)["batch_id"]
    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)
    # catchup is off: unpausing schedules the latest complete month, whose snapshot is the
    # current month start, years after the data: that run is skipped and publishes nothing.
    now = datetime.now(UTC)
    latest = now.replace(day=1).date().isoformat()

    backfill = airflow_api.create_backfill(
        DAG_ID, "2017-01-01T00:00:00Z", "2017-06-01T00:00:00Z", max_active_runs=2
    )
    runs = airflow_api.wait_for_backfill(backfill, expected_runs=6, timeout=900)
    scheduled = airflow_api.dag_runs(DAG_ID, run_type="scheduled")
    runs_all = airflow_api.wait_for_runs(
        DAG_ID, [r["dag_run_id"] for r in runs + scheduled], timeout=600
    )

    for run in runs_all:
        assert run["state"] == "success", airflow_api.run_report(DAG_ID, run["dag_run_id"])
        # ... at the first try: a retry that succeeds hides a race between concurrent runs
        # (one run's publish once removed the build another's refresh_catalog was reading)
        retried = {
            ti["task_id"]: ti["try_number"]
            for ti in airflow_api.task_instances(DAG_ID, run["dag_run_id"])
            if ti["try_number"] > 1
        }
        assert not retried, (retried, airflow_api.run_report(DAG_ID, run["dag_run_id"]))
    # Months the batch does not cover (the backfill's last three, the scheduled one) are
    # skipped whole (nothing built, nothing published; the run is a success, not a failure),
    # with the reason in resolve_run's log.
    building = [run for run in runs if run["data_interval_end"][:10] in BACKFILLED]
    built_ids = {run["dag_run_id"] for run in building}
    skipped = [run for run in runs_all if run["dag_run_id"] not in built_ids]
    assert sorted(run["data_interval_end"][:10] for run in skipped) == [
        *BEYOND_THE_DATA,
        latest,
    ]
    assert [run["data_interval_end"][:10] for run in scheduled] == [latest]
    for run in skipped:
        states = airflow_api.task_states(DAG_ID, run["dag_run_id"])
        assert set(states.values()) == {"skipped"}, airflow_api.run_report(
            DAG_ID, run["dag_run_id"]
        )
        log = airflow_api.task_log(DAG_ID, run["dag_run_id"], "resolve_run")
        assert "skipped, nothing built or published" in log, log[-3000:]
        assert "its last snapshot is 2017-04-01" in log, log[-3000:]
    store = published(lake, credentials)
    assert {s: len(rows) for s, rows in store.items()} == BACKFILLED
    current = read_current_set(lake)
    for snapshot, rows in BACKFILLED.items():
        manifest = current["snapshots"][snapshot]
        assert manifest["rows"] == rows and manifest["raw_batch_id"] == batch_id
    # Each published snapshot is the one its run built (write-audit-publish); the runs' build
    # folders are removed once superseded, so the manifest's record of the build is checked.
    for run in building:
        manifest = current["snapshots"][run["data_interval_end"][:10]]
        assert manifest["run_id"] == run["dag_run_id"]
        assert manifest["built_from"].startswith(lake.uri(run_build_prefix(run["dag_run_id"])))
        assert hashlib.sha256(lake.read_bytes(manifest["key"])).hexdigest() == manifest["sha256"]
    run_folders = {key.split("/")[2] for key in lake.list("warehouse/runs")}
    assert len(run_folders) < len(runs_all), run_folders
    # Each backfilled snapshot equals the same snapshot of one full refresh of the batch. A
    # full refresh stops at the month after the last purchase (2017-04-01), and so do the
    # monthly runs: the later ones were skipped above.
    refreshed = full_refresh
    assert sorted({snapshot.isoformat() for _, snapshot in refreshed}) == [
        "2017-02-01",
        "2017-03-01",
        "2017-04-01",
    ]
    with connect(credentials=credentials) as con:
        relation = con.sql(
            "select * from read_parquet($files, hive_partitioning = true)",
            params={"files": list(current_files(lake).values())},
        )
        columns = relation.columns
        backfilled = {
            (row[columns.index("customer_unique_id")], row[columns.index("snapshot_date")]): dict(
                zip(columns, row, strict=True)
            )
            for row in relation.fetchall()
            if row[columns.index("snapshot_date")] in {snapshot for _, snapshot in refreshed}
        }
    assert len(backfilled) == len(refreshed) == 4
    assert diff_rows(refreshed, backfilled) == []
    # At most one dbt process per layer, each starting from the parsed state `make setup`
    # wrote. Bronze and silver depend only on the batch: a run that resolves after another
    # completed on the same batch reuses its build; runs that start before that (the first
    # two backfill runs, started together) build their own; gold always builds the run's own
    # snapshot. (Skipped runs build nothing.)
    reused, resolved, completed = [], {}, []
    for run in building:
        layers = {
            layer: airflow_api.xcom(DAG_ID, run["dag_run_id"], f"{layer}.dbt_build")
            for layer in ("bronze", "silver", "gold")
        }
        tasks = {ti["task_id"]: ti for ti in airflow_api.task_instances(DAG_ID, run["dag_run_id"])}
        resolved[run["dag_run_id"]] = (
            tasks["resolve_run"]["start_date"],
            tasks["resolve_run"]["end_date"],
        )
        for layer, built in layers.items():
            assert built["layer"] == layer and built["full_parse"] is False, built
        assert layers["gold"]["nodes"] > 0
        if layers["bronze"]["reused"]:
            assert layers["bronze"]["nodes"] == layers["silver"]["nodes"] == 0
            assert layers["silver"]["reused"] and layers["gold"]["reused"]
            reused.append(run["dag_run_id"])
        else:
            assert layers["bronze"]["nodes"] > 0 and layers["silver"]["nodes"] > 0
            completed.append(tasks["gold.dbt_build"]["end_date"])
    first_complete = min(completed)
    for run_id, (started, ended) in resolved.items():
        if started > first_complete:
            assert run_id in reused, (run_id, started, first_complete)
        if ended < first_complete:
            assert run_id not in reused, (run_id, ended, first_complete)
    assert len(reused) >= 1, reused
    # ... and the verdict of its silver contracts: no scan, no report of its own
    for run_id in reused:
        gate_report = report_prefix(DAG_ID, run_id, "olist_lake/silver/slv_orders")
        assert not lake.exists(gate_report + "/scan.json"), run_id
    for run in building:
        if run["dag_run_id"] not in reused:
            gate_report = report_prefix(DAG_ID, run["dag_run_id"], "olist_lake/silver/slv_orders")
            assert lake.exists(gate_report + "/scan.json")
    starts = sorted(
        (r["start_date"], r["end_date"]) for r in building if r["start_date"] and r["end_date"]
    )
    overlapped = any(starts[i + 1][0] < starts[i][1] for i in range(len(starts) - 1))
    assert overlapped, f"no two runs overlapped, concurrency not exercised: {starts}"


@pytest.mark.e2e
def test_snapshot_built_like_on_mwaa_equals_the_local_default(
    airflow_cluster: AirflowCluster,
    lake: S3Lake,
    credentials: S3Credentials,
    full_refresh: dict,
) -> None:
    """The backfill ran MWAA-style: lake on S3, dbt and Soda from the tools virtualenv, every
    task in its own empty working directory. Its snapshot equals a plain local build."""
    expected = {key: row for key, row in full_refresh.items() if key[1] == date(2017, 4, 1)}

    with connect(credentials=credentials) as con:
        relation = con.sql(
            "select * from read_parquet(?)", params=[current_files(lake)["2017-04-01"]]
        )
        columns = relation.columns
        actual = {
            (row[0], date(2017, 4, 1)): dict(zip(columns, row, strict=True))
            for row in relation.fetchall()
        }

    assert len(expected) == 2
    assert diff_rows(expected, actual) == []
    isolated = [
        line.split("\t")
        for line in (airflow_cluster.isolation_root / "isolation.log").read_text().splitlines()
        if line.startswith(DAG_ID)
    ]
    assert len(isolated) > 20 and len({row[4] for row in isolated}) == len(isolated)
    assert airflow_cluster.env["OLIST_DBT_EXECUTABLE"].endswith(".venv-tools/bin/dbt")


@pytest.mark.e2e
def test_gate_times_out_or_waits_for_a_corrected_batch_and_publishes_only_what_passed(
    airflow_api: AirflowClient, e2e_landing: Path, lake: S3Lake
) -> None:
    """Two runs at once on a batch that breaks a silver contract: one with a 1-minute
    quality timeout fails naming the check and publishes nothing; the other, still waiting
    when ingestion publishes a corrected batch, builds gold from that batch and publishes.
    (Together rather than one after the other: the timeout is the slow part of both.)"""
    # Runs after the backfill test in this module: its published snapshots must survive.
    before = {key: lake.read_bytes(key) for key in lake.list("feature_store")}
    assert current_files(lake)["2017-04-01"] in {lake.uri(key) for key in before}
    ingest(airflow_api, e2e_landing, lake, break_with=unknown_order_status)
    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)
    times_out = airflow_api.trigger(
        DAG_ID,
        conf={
            "snapshot_date": "2017-03-01",
            "quality_poke_seconds": 30,
            "quality_timeout_minutes": 1,
        },
    )["dag_run_id"]
    waits = airflow_api.trigger(
        DAG_ID,
        conf={
            "snapshot_date": "2017-04-01",
            "quality_poke_seconds": 30,
            "quality_timeout_minutes": 15,
        },
    )["dag_run_id"]

    run = airflow_api.wait_for_run(DAG_ID, times_out, timeout=600)

    assert run["state"] == "failed"
    states = airflow_api.task_states(DAG_ID, times_out)
    assert states["quality_gate"] == "failed", states
    gate = next(
        ti
        for ti in airflow_api.task_instances(DAG_ID, times_out)
        if ti["task_id"] == "quality_gate"
    )
    log = airflow_api.task_log(DAG_ID, times_out, "quality_gate", gate["try_number"])
    assert STATUS_CHECK in log
    assert "Sensor has timed out" in log
    report = json.loads(
        lake.read_bytes(
            report_prefix(DAG_ID, times_out, "olist_lake/silver/slv_orders") + "/scan.json"
        )
    )
    assert report["ok"] is False
    assert any(
        check["name"].startswith(STATUS_CHECK) and check["outcome"] == "failed"
        for check in report["checks"]
    )
    assert {key: lake.read_bytes(key) for key in lake.list("feature_store")} == before
    # The other run is still held at its gate, with nothing of gold started.
    wait_for_task_state(airflow_api, waits, "quality_gate", "up_for_reschedule")
    assert gold_states(airflow_api, waits) <= {None, "scheduled", "queued"}

    corrected = ingest(airflow_api, e2e_landing, lake)
    run = airflow_api.wait_for_run(DAG_ID, waits, timeout=600)

    assert run["state"] == "success", airflow_api.run_report(DAG_ID, waits)
    manifest = read_current_set(lake)["snapshots"]["2017-04-01"]
    assert manifest["raw_batch_id"] == corrected and manifest["rows"] == 2


def open_from_navigation(page: Page, entry: str) -> FrameLocator:
    """Open a plugin page through the UI's Browse menu; its content is in an iframe.

    The UI titles the iframe with the view's name: picking the frame by title makes sure the
    page checked is the one just opened, not the previous plugin page (the UI reuses the
    frame and only swaps its source).
    """
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name=entry).click()
    return page.frame_locator(f'iframe[title="{entry}"]')


@pytest.mark.e2e
def test_feature_store_and_quality_pages_show_the_runs_in_a_browser(
    airflow_cluster: AirflowCluster, airflow_api: AirflowClient, lake: S3Lake, tmp_path: Path
) -> None:
    """Issue 12: a headless Chromium signs in on Airflow's login page and opens the plugin's
    pages from the navigation. What they show was made by the runs above: the backfilled
    snapshots, and the run whose quality gate timed out on a failing Soda check. Screenshots
    of each page land in tmp_path."""
    executable = chromium_executable()
    published = sorted(read_current_set(lake)["snapshots"])
    assert published == sorted(BACKFILLED)
    failed = [run["dag_run_id"] for run in airflow_api.dag_runs(DAG_ID, state="failed")]
    assert len(failed) == 1, failed

    with chromium(executable) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Pages read the lake on moto S3 while the machine is busy: Playwright's 5 s is short.
        page.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)
        try:
            log_in(page, airflow_cluster.url, ADMIN_USER, ADMIN_PASSWORD)
            page.screenshot(path=tmp_path / "0-home.png")

            store = open_from_navigation(page, "Feature store")
            expect(store.get_by_role("heading", name="Feature store")).to_be_visible()
            for snapshot in published:
                expect(store.get_by_role("cell", name=snapshot, exact=True)).to_be_visible()
            # Rendered whole by the server: once its table shows, so do its plots.
            expect(store.locator("svg.plot").first).to_be_visible()
            page.screenshot(path=tmp_path / "1-feature-store.png", full_page=True)

            quality = open_from_navigation(page, "Quality (Soda)")
            expect(quality.get_by_role("heading", name="Quality", exact=True)).to_be_visible()
            run_heading = quality.locator("h2", has_text=failed[0])
            expect(run_heading).to_contain_text("FAILED")
            # Failing datasets first, failing checks first: the run's first check is the one
            # the gate timed out on.
            first_check = run_heading.locator("xpath=following::table[1]//tr[2]")
            expect(first_check).to_have_class("failed")
            expect(first_check.locator("td").nth(2)).to_contain_text(STATUS_CHECK)
            page.screenshot(path=tmp_path / "2-quality.png", full_page=True)
        except BaseException:
            page.screenshot(path=tmp_path / "failed.png", full_page=True)
            raise

"""The feature-store UI plugin: Airflow loads it, its endpoints need Airflow's auth, its pages
show the lake.

The app is mounted on a FastAPI parent the way Airflow's API server does it (`init_auth_manager`
then `app.mount("/olist", ...)`), with the simple auth manager and a JWT secret of the test's
own; tokens come from that auth manager's `POST /auth/token` or its `generate_jwt`, so the
auth check under test is Airflow's, unmocked. The lake is a tmp folder filled by the
pipeline's own publish and report code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from include.olist_risk.feature_store.publish import publish_snapshots
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.storage import Lake, LocalLake, open_lake
from include.olist_risk.quality.reports import write_reports
from tests.isolation import PROJECT_ROOT

SNAPSHOTS = ("2024-01-31", "2024-02-29")
DAG_ID = "return_risk_feature_store"
RUN_ID = "manual__2024-03-01T00:00:00+00:00"
PASSWORDS = {"admin": "admin-pw", "analyst": "analyst-pw"}


def _build_lake(lake: Lake, scratch: Path, credentials: S3Credentials | None = None) -> Lake:
    """Two published snapshots (through publish_snapshots) and one Soda report with a failure."""
    build = "warehouse/runs/test_run"
    for number, snapshot in enumerate(SNAPSHOTS):
        local = scratch / f"{snapshot}.parquet"
        local.parent.mkdir(parents=True, exist_ok=True)
        # Row i of snapshot n: customer c<i>, a score, and a feature that is null on odd rows.
        duckdb.sql(
            f"copy (select 'c' || i as customer_unique_id, i / 10 + {number} as risk_score, "
            "case when i % 2 = 0 then i end as late_deliveries "
            f"from range(60) t(i)) to '{local}' (format parquet)"
        )
        key = f"{build}/gold/fct_customer_return_risk_features/snapshot_date={snapshot}"
        lake.put_file(local, f"{key}/data_0.parquet")
    publish_snapshots(
        lake,
        build,
        raw_batch_id="batch-1",
        version="code-1",
        run_id=RUN_ID,
        full_refresh=True,
        credentials=credentials,
    )
    checks = [
        {
            "name": "risk_score between 0 and 1",
            "column": "risk_score",
            "outcome": "failed",
            "value": 12,
            "threshold": "= 0",
            "metrics": {"invalid_count": 12},
        },
        {
            "name": "no missing customer ids",
            "column": "customer_unique_id",
            "outcome": "passed",
            "value": 0,
            "threshold": "= 0",
            "metrics": {"missing_count": 0},
        },
    ]
    result = {
        "dataset": "gold/fct_customer_return_risk_features",
        "checks": checks,
        "ok": False,
        "rows": 120,
        "seconds": 1.5,
        "contract": "gold.yml",
        "errors": "",
    }
    context = {"dag_id": DAG_ID, "run_id": RUN_ID, "task_id": "gold_audit", "raw_batch_id": "b1"}
    write_reports(lake, [result], context)
    return lake


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "lake"))
    monkeypatch.setenv("OLIST_LANDING_URI", str(tmp_path / "landing"))
    return _build_lake(LocalLake(tmp_path / "lake"), tmp_path / "scratch")


@pytest.fixture(scope="module")
def metadata_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated metadata DB of this module's own, with the in-process engine bound to it.

    Token validation looks revoked tokens up in the metadata DB. Other tests of the same
    worker may already have configured Airflow's in-process engine (on an unmigrated file);
    this module migrates its own database and rebinds the engine to it, then restores it.
    """
    from airflow import settings

    url = f"sqlite:///{tmp_path_factory.mktemp('plugin-metadata') / 'airflow.db'}"
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    previous = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
    _rebind_orm(settings)
    assert str(settings.engine.url) == url
    yield url
    if previous is None:
        del os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    else:
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = previous
    _rebind_orm(settings)


def _rebind_orm(settings: Any) -> None:
    """Point Airflow's in-process engine at the configured database (read again from env)."""
    settings.dispose_orm()
    settings.configure_vars()
    settings.configure_orm()


@pytest.fixture
def auth_config(
    metadata_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The simple auth manager with known users and a JWT secret of the test's own."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,analyst:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "plugin-test-secret-" + "x" * 64)

    def forget_signers() -> None:
        # Airflow caches the JWT signer and validator per class: rebuild them from this secret.
        SimpleAuthManager._get_token_signer.cache_clear()
        SimpleAuthManager._get_token_validator.cache_clear()

    forget_signers()
    yield
    forget_signers()


@pytest.fixture
def server(auth_config: None) -> Iterator[TestClient]:
    """The plugin app behind Airflow's auth manager, mounted as the API server mounts it."""
    from airflow.api_fastapi import app as airflow_app
    from olist_feature_store.app import URL_PREFIX, app

    parent = FastAPI()
    airflow_app.init_auth_manager(parent)  # mounts the auth manager's /auth, as the API server
    parent.mount(URL_PREFIX, app)
    with TestClient(parent) as client:
        yield client


def _token(client: TestClient, user: str) -> str:
    response = client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _plugin_paths() -> list[str]:
    """Every route of the plugin app, its path parameter filled with a published snapshot."""
    from olist_feature_store.app import URL_PREFIX, app

    paths = [
        URL_PREFIX + route.path.replace("{snapshot}", SNAPSHOTS[0])
        for route in app.routes
        if isinstance(route, APIRoute)
    ]
    assert len(paths) >= 8, paths
    # The feature-health JSON (issue 12) is one of the endpoints every auth test walks.
    assert f"{URL_PREFIX}/api/feature-health" in paths, paths
    return paths


@pytest.mark.parametrize("layout", ["project", "mwaa"])
def test_airflow_loads_the_plugin_with_its_app_and_views(tmp_path: Path, layout: str) -> None:
    """A fresh interpreter, as the API server starts: Airflow reads the plugins folder.

    `project`: the project root on PYTHONPATH (make airflow, Astro). `mwaa`: nothing on
    PYTHONPATH, `include/` under the DAGs folder as deploy ships it."""
    script = (
        "from airflow import plugins_manager\n"
        "plugins, errors = plugins_manager._get_plugins()\n"
        "assert not errors, errors\n"
        "[plugin] = [p for p in plugins if p.name == 'olist_feature_store']\n"
        "apps, _ = plugins_manager.get_fastapi_plugins()\n"
        "print([a['url_prefix'] for a in apps])\n"
        "print(sorted((v['destination'], v['href']) for v in plugin.external_views))\n"
        "print([(link.name, [op.__name__ for op in link.operators])"
        " for link in plugins_manager.get_operator_extra_links()])\n"
    )
    env = {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": "/usr/bin:/bin",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
    }
    if layout == "project":
        env["PYTHONPATH"] = str(PROJECT_ROOT)
    else:
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "include").symlink_to(PROJECT_ROOT / "include")
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the project root, which Python would otherwise put on sys.path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    prefixes, views, links = result.stdout.strip().splitlines()[-3:]
    assert prefixes == "['/olist']"
    assert "('nav', '/olist/feature-store')" in views
    assert "('nav', '/olist/quality')" in views
    assert "dag_run" in views
    # The quality gate's "Soda report" link, which the API server renders for its class.
    assert links == "[('Soda report', ['UpstreamQualitySensor'])]"


def test_airflow_api_server_mounts_the_plugin_behind_its_auth(
    lake: Lake, auth_config: None
) -> None:
    """Airflow's own API server app (`create_app`): plugins, auth manager and middlewares."""
    from airflow.api_fastapi.app import create_app

    with TestClient(create_app("core")) as client:
        assert client.get("/olist/api/snapshots").status_code == 401
        token = _token(client, "analyst")
        response = client.get("/olist/api/snapshots", headers=_bearer(token))
        assert response.status_code == 200
        assert len(response.json()["snapshots"]) == len(SNAPSHOTS)
        # The UI's cookie, as the framed page sends it.
        page = client.get("/olist/quality", cookies={"_token": token})
        assert page.status_code == 200 and "risk_score between 0 and 1" in page.text


def test_every_endpoint_refuses_requests_without_a_valid_token(
    lake: Lake, server: TestClient
) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    paths = _plugin_paths()
    forged = _token(server, "admin")[:-4] + "AAAA"  # a signature the secret did not make
    from airflow.api_fastapi.app import get_auth_manager as manager

    no_role = manager().generate_jwt(SimpleAuthManagerUser(username="ghost", role=None))
    for path in paths:
        assert server.get(path).status_code == 401, path
        assert server.get(path, headers=_bearer(forged)).status_code == 403, path
        assert server.get(path, cookies={"_token": forged}).status_code == 403, path
        # Authenticated but not authorised by the auth manager: still refused.
        assert server.get(path, headers=_bearer(no_role)).status_code == 403, path
    # No unauthenticated OpenAPI/docs routes either.
    for path in ("/olist/docs", "/olist/openapi.json", "/olist/redoc"):
        assert server.get(path).status_code in (401, 403, 404), path


def test_every_endpoint_answers_a_viewer_with_a_token_or_the_ui_cookie(
    lake: Lake, server: TestClient
) -> None:
    token = _token(server, "analyst")
    for path in _plugin_paths():
        assert server.get(path, headers=_bearer(token)).status_code == 200, path
    # The Airflow UI authenticates its pages with the `_token` cookie, not a header.
    page = server.get("/olist/feature-store", cookies={"_token": token})
    assert page.status_code == 200
    server.cookies.clear()


def _get(server: TestClient, path: str, **params: Any):
    response = server.get(path, params=params, headers=_bearer(_token(server, "analyst")))
    assert response.status_code == 200, (path, response.text[:2000])
    return response


def test_feature_store_shows_the_published_set_from_the_pointer(
    lake: Lake, server: TestClient
) -> None:
    pointer = json.loads(lake.read_bytes("feature_store/_current.json"))
    snapshots = _get(server, "/olist/api/snapshots").json()["snapshots"]
    assert [s["snapshot_date"] for s in snapshots] == sorted(SNAPSHOTS, reverse=True)
    for shown in snapshots:
        entry = pointer["snapshots"][shown["snapshot_date"]]
        assert shown["key"] == entry["key"] and shown["rows"] == 60
        assert (shown["raw_batch_id"], shown["code_version"], shown["run_id"]) == (
            "batch-1",
            "code-1",
            RUN_ID,
        )
        assert shown["publication_id"] == pointer["publication_id"]

    page = _get(server, "/olist/feature-store").text
    for snapshot in SNAPSHOTS:
        assert snapshot in page
        assert f"/olist/api/snapshots/{snapshot}/data.parquet" in page
    assert pointer["publication_id"] in page and "batch-1" in page and "code-1" in page


def test_snapshot_preview_null_rates_and_downloads(lake: Lake, server: TestClient) -> None:
    snapshot = SNAPSHOTS[1]
    detail = _get(server, f"/olist/api/snapshots/{snapshot}").json()
    # The snapshot date comes from the partition path, as in the catalog's view.
    columns = ["customer_unique_id", "risk_score", "late_deliveries", "snapshot_date"]
    assert detail["preview"]["columns"] == columns
    assert len(detail["preview"]["rows"]) == 50  # the first 50 of 60
    assert detail["preview"]["rows"][0][3] == snapshot
    assert detail["null_rates"] == {
        "customer_unique_id": 0.0,
        "risk_score": 0.0,
        "late_deliveries": 0.5,
        "snapshot_date": 0.0,
    }

    page = _get(server, f"/olist/feature-store/{snapshot}").text
    assert "late_deliveries" in page and "50.00%" in page and "c49" in page

    parquet = _get(server, f"/olist/api/snapshots/{snapshot}/data.parquet").content
    published = lake.read_bytes(
        json.loads(lake.read_bytes("feature_store/_current.json"))["snapshots"][snapshot]["key"]
    )
    assert parquet == published  # the published file itself, byte for byte

    response = _get(server, f"/olist/api/snapshots/{snapshot}/data.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 60 and rows[0]["customer_unique_id"] == "c0"
    assert rows[0]["snapshot_date"] == snapshot

    token = _bearer(_token(server, "analyst"))
    assert server.get("/olist/api/snapshots/1999-01-01", headers=token).status_code == 404
    assert server.get("/olist/feature-store/..%2Fetc", headers=token).status_code == 404


def test_quality_lists_checks_failing_first_with_a_link_to_the_run(
    lake: Lake, server: TestClient
) -> None:
    [run] = _get(server, "/olist/api/quality").json()["runs"]
    assert (run["dag_id"], run["run_id"], run["ok"]) == (DAG_ID, RUN_ID, False)
    [dataset] = run["datasets"]
    assert [c["outcome"] for c in dataset["checks"]] == ["failed", "passed"]
    failing = dataset["checks"][0]
    assert (failing["name"], failing["value"], failing["threshold"]) == (
        "risk_score between 0 and 1",
        12,
        "= 0",
    )

    page = _get(server, "/olist/quality").text
    assert page.index("risk_score between 0 and 1") < page.index("no missing customer ids")
    # The Airflow 3 UI's run page, in the top window (the plugin page is in a frame).
    run_link = "/dags/return_risk_feature_store/runs/manual__2024-03-01T00%3A00%3A00%2B00%3A00"
    assert f'href="{run_link}" target="_top"' in page
    assert f"{run_link}/tasks/gold_audit" in page

    # The DAG-run tab filters on that run; another run has no reports.
    assert (
        "risk_score between 0 and 1" in _get(server, "/olist/quality", dag=DAG_ID, run=RUN_ID).text
    )
    assert _get(server, "/olist/api/quality", dag=DAG_ID, run="other").json() == {"runs": []}


GOLD = "gold/fct_customer_return_risk_features"
SILVER = "silver/stg_orders"
RISK = ("risk_score", "risk_score between 0 and 1")
MISSING = ("customer_unique_id", "no missing customer ids")
ROWS = (None, "row count > 0")


def _check(check: tuple[str | None, str], outcome: str, value: int) -> dict[str, Any]:
    column, name = check
    return {
        "name": name,
        "column": column,
        "outcome": outcome,
        "value": value,
        "threshold": "= 0",
        "metrics": {},
    }


def _write_run(
    lake: LocalLake, run_id: str, hours_ago: float, datasets: dict[str, list[dict[str, Any]]]
) -> None:
    """One run's Soda reports through the pipeline's writer, last written `hours_ago`: the
    plugin orders runs by when their reports were written."""
    from include.olist_risk.lake.layout import report_prefix

    when = time.time() - hours_ago * 3600
    for dataset, checks in datasets.items():
        result = {
            "dataset": dataset,
            "checks": checks,
            "ok": all(check["outcome"] == "passed" for check in checks),
            "rows": 10,
            "seconds": 1.0,
            "contract": "contract.yml",
            "errors": "",
        }
        task = "quality_gate" if dataset.startswith("silver/") else "audit_gold"
        context = {"dag_id": DAG_ID, "run_id": run_id, "task_id": task, "raw_batch_id": "b1"}
        write_reports(lake, [result], context)
        for name in ("scan.json", "scan.md"):
            os.utime(lake.path / report_prefix(DAG_ID, run_id, dataset) / name, (when, when))


JAN, FEB, NEWEST = (
    "scheduled__2024-01-01T00:00:00+00:00",
    "scheduled__2024-02-01T00:00:00+00:00",
    "manual__2024-03-02T00:00:00+00:00",
)


@pytest.fixture
def history_lake(lake: LocalLake) -> LocalLake:
    """Four runs, oldest first: JAN and FEB pass the gold checks (FEB's gate fails a silver
    check), RUN_ID (the `lake` fixture's) fails risk_score with 12, NEWEST fails it with 3 and
    has a check the older contracts did not."""
    _write_run(lake, JAN, 4, {GOLD: [_check(RISK, "passed", 0), _check(MISSING, "passed", 0)]})
    _write_run(
        lake,
        FEB,
        3,
        {
            GOLD: [_check(RISK, "passed", 0), _check(MISSING, "passed", 0)],
            SILVER: [_check(("order_id", "order_id has no duplicates"), "failed", 7)],
        },
    )
    _write_run(
        lake,
        RUN_ID,
        2,
        {GOLD: [_check(RISK, "failed", 12), _check(MISSING, "passed", 0)]},
    )
    _write_run(
        lake,
        NEWEST,
        1,
        {
            GOLD: [
                _check(RISK, "failed", 3),
                _check(MISSING, "passed", 0),
                _check(ROWS, "passed", 120),
            ]
        },
    )
    return lake


def test_check_history_lists_each_checks_outcome_and_value_per_run_newest_first(
    history_lake: LocalLake, server: TestClient
) -> None:
    history = _get(server, "/olist/api/quality/history").json()
    assert history["runs"] == [NEWEST, RUN_ID, FEB, JAN]
    gold, silver = history["datasets"]
    assert (gold["dag_id"], gold["dataset"], silver["dataset"]) == (DAG_ID, GOLD, SILVER)
    assert [run["run_id"] for run in gold["runs"]] == [NEWEST, RUN_ID, FEB, JAN]
    # Only FEB's gate scanned silver: its history is that one run.
    assert [run["run_id"] for run in silver["runs"]] == [FEB]
    # Failing in its latest run first, then by column (the dataset-level check has none).
    assert [(c["column"], c["name"]) for c in gold["checks"]] == [RISK, ROWS, MISSING]
    risk = gold["checks"][0]["history"]
    assert [(e["run_id"], e["outcome"], e["value"]) for e in risk] == [
        (NEWEST, "failed", 3),
        (RUN_ID, "failed", 12),
        (FEB, "passed", 0),
        (JAN, "passed", 0),
    ]
    # A check new in the latest contract has no history before it.
    assert [e["run_id"] for e in gold["checks"][1]["history"]] == [NEWEST]
    assert [(e["outcome"], e["value"]) for e in silver["checks"][0]["history"]] == [("failed", 7)]


def _history_cells(page: str, check: tuple[str | None, str]) -> list[tuple[str, str]]:
    """(outcome, measured) per run column of a check's row in the page's history table."""
    section = page[page.index("<h2>Check history</h2>") :]
    column, name = check
    cells = f"<td>{escape(column or '(dataset)')}</td><td>{escape(name)}</td>"  # as HTML shows it
    row = re.search(f"<tr>{re.escape(cells)}(.*?)</tr>", section)
    assert row, (check, section[:3000])
    cells = re.findall(r'<td class="(\w+)"[^>]*>(?:(\w+)<br>([^<]*)|—)</td>', row.group(1))
    return [(outcome or css, value) for css, outcome, value in cells]


@pytest.mark.parametrize(
    ("params", "current"),
    [({}, None), ({"dag": DAG_ID, "run": JAN}, JAN), ({"limit": 1}, None)],
    ids=["all-runs", "one-run-tab", "one-run-listed"],
)
def test_quality_page_shows_the_history_of_each_check_across_runs(
    history_lake: LocalLake, server: TestClient, params: dict[str, Any], current: str | None
) -> None:
    """The same history whether the page lists every run, one run (the DAG-run tab, which
    marks that run's column) or fewer runs than the history covers."""
    page = _get(server, "/olist/quality", **params).text
    assert _history_cells(page, RISK) == [
        ("failed", "3"),
        ("failed", "12"),
        ("passed", "0"),
        ("passed", "0"),
    ]
    # Absent from the three runs before its check existed.
    assert _history_cells(page, ROWS) == [
        ("passed", "120"),
        ("muted", ""),
        ("muted", ""),
        ("muted", ""),
    ]
    assert page.count("(this run)") == (1 if current else 0)
    if current:
        section = page[page.index("<h2>Check history</h2>") :]
        assert section.index("(this run)") > section.index(f">{current}</a>")


def test_check_history_reads_only_the_newest_runs(
    lake: LocalLake, server: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound that keeps the page cheap on S3: one scan.json read per dataset of each of the
    newest HISTORY_RUNS runs, however many runs the lake holds."""
    from olist_feature_store.data import HISTORY_RUNS

    runs = [f"scheduled__2023-{month:02d}-01T00:00:00+00:00" for month in range(1, 13)]
    assert len(runs) > HISTORY_RUNS + 1  # more runs in the lake than the history reads
    for age, run_id in enumerate(reversed(runs), start=1):  # the last one newest
        _write_run(lake, run_id, age, {GOLD: [_check(RISK, "passed", 0)]})
    reads: list[str] = []
    read_bytes = LocalLake.read_bytes

    def counting(self: LocalLake, key: str) -> bytes:
        reads.append(key)
        return read_bytes(self, key)

    monkeypatch.setattr(LocalLake, "read_bytes", counting)

    history = _get(server, "/olist/api/quality/history").json()
    # The lake fixture's RUN_ID was written now, so it is the newest.
    assert history["runs"] == [RUN_ID, *reversed(runs)][:HISTORY_RUNS]
    assert len([key for key in reads if key.endswith("/scan.json")]) == HISTORY_RUNS

    reads.clear()
    _get(server, "/olist/quality", dag=DAG_ID, run=runs[0])  # the run listed + the history
    assert len([key for key in reads if key.endswith("/scan.json")]) == 1 + HISTORY_RUNS

    token = _bearer(_token(server, "analyst"))
    too_many = {"runs": HISTORY_RUNS + 1}
    assert (
        server.get("/olist/api/quality/history", params=too_many, headers=token).status_code == 422
    )


def test_the_soda_report_link_opens_the_quality_page_of_its_run(
    history_lake: LocalLake, server: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL the gate's and the audit's extra link carry shows that run's results."""
    from include.olist_risk.quality.sensor import quality_report_url

    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)  # served at the root
    url = quality_report_url(DAG_ID, RUN_ID)
    page = server.get(url, headers=_bearer(_token(server, "analyst")))
    assert page.status_code == 200, url
    listed = page.text[: page.text.index("<h2>Check history</h2>")]
    assert RUN_ID in listed and "risk_score between 0 and 1" in listed
    assert all(other not in listed for other in (JAN, FEB, NEWEST))
    assert page.text.count("(this run)") == 1


def test_pages_work_before_anything_is_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: TestClient
) -> None:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "empty-lake"))
    assert _get(server, "/olist/api/snapshots").json() == {"snapshots": []}
    assert "Nothing is published yet" in _get(server, "/olist/feature-store").text
    assert _get(server, "/olist/api/quality").json() == {"runs": []}
    assert "No Soda reports" in _get(server, "/olist/quality").text


def test_an_s3_lake_is_read_through_the_airflow_connection(
    s3_bucket: str,
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: TestClient,
) -> None:
    """On MWAA the lake is S3: the pointer, DuckDB previews and downloads go through
    `load_runtime()` (credentials from the `aws_default` connection) and httpfs."""
    credentials = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    root = f"s3://{s3_bucket}/lake"
    _build_lake(open_lake(root, credentials), tmp_path / "scratch", credentials)
    monkeypatch.setenv("OLIST_LAKE_URI", root)
    monkeypatch.setenv("OLIST_LANDING_URI", f"s3://{s3_bucket}/landing")

    snapshots = _get(server, "/olist/api/snapshots").json()["snapshots"]
    assert [s["snapshot_date"] for s in snapshots] == sorted(SNAPSHOTS, reverse=True)
    detail = _get(server, f"/olist/api/snapshots/{SNAPSHOTS[0]}", limit=5).json()
    assert len(detail["preview"]["rows"]) == 5 and detail["null_rates"]["late_deliveries"] == 0.5
    rows = list(
        csv.DictReader(
            io.StringIO(_get(server, f"/olist/api/snapshots/{SNAPSHOTS[0]}/data.csv").text)
        )
    )
    assert len(rows) == 60
    [run] = _get(server, "/olist/api/quality").json()["runs"]
    assert run["run_id"] == RUN_ID and not run["ok"]

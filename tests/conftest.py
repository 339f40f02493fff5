"""Shared fixtures: an isolated Airflow home, a real local S3 API (moto server), shared data.

Airflow reads its configuration when first imported, so the environment is set here, at
collection time, before any test module imports it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.generator.generate import GenerationResult, generate
from tests.dev.generator.csv_rows import SCALE, SEED

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
BIN = Path(sys.executable).parent

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="olist-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"include\..*",
        "OLIST_DATA_DIR": str(_AIRFLOW_HOME / "data"),
        "SODA_CORE_TELEMETRY_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
)


def shared_file(relative: str) -> Path:
    """A path in ../shared: CI must have it (the test fails), a bare checkout may not (skip)."""
    path = SHARED / relative
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must run beside ../shared")
        pytest.skip(f"{path} not present (only the project checkout is here)")
    return path


def shared_data_dir() -> Path:
    """The four real Olist files."""
    return shared_file("data/olist")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The longest files first, the end-to-end module (mostly waiting on its scheduler) before all:
# `make test` hands whole files to workers in collection order (`--dist loadfile
# --no-loadscope-reorder`; xdist's default reorder would put the files with most tests first),
# and a long file that starts last alone sets the suite's wall time.
LONGEST_FIRST = (
    "tests/e2e/",
    "tests/dbt/test_project_runs.py",
    "tests/dbt/test_snapshot_builds.py",
    "tests/transform/test_layer_build.py",
    "tests/dbt/",
    "tests/quality/",
    "tests/dev/test_local_run_task_logs.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    """One small generated dataset shared by the generator and source tests (about a second)."""
    return generate(tmp_path_factory.mktemp("olist-generated"), scale=SCALE, seed=SEED)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB in a throw-away Airflow home, with airflow_settings.yaml applied."""
    for command in (
        [str(BIN / "airflow"), "db", "migrate"],
        [sys.executable, "-m", "dev.airflow_settings"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # A test of this worker may have connected Airflow's in-process engine to the file before
    # it was migrated; such pooled connections do not see the new tables, so start afresh.
    from airflow import settings

    settings.dispose_orm()
    settings.configure_orm()
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on localhost (moto's server), for the whole session."""
    port = free_port()
    log = (_AIRFLOW_HOME / "moto.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"moto server did not start on {endpoint}")
    yield endpoint
    process.terminate()
    process.wait(timeout=10)
    log.close()


def use_moto_as_aws_default(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> None:
    """AWS credentials and Airflow's `aws_default` connection, pointed at the moto server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1", "endpoint_url": moto_endpoint},
            }
        ),
    )


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, request) -> str:
    """A fresh bucket, reachable through Airflow's `aws_default` connection; returns its name."""
    from include.olist_risk.lake.credentials import S3Credentials

    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"test-{name}-{free_port()}"
    use_moto_as_aws_default(monkeypatch, moto_endpoint)
    credentials = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    credentials.boto3_client().create_bucket(Bucket=bucket)
    return bucket

"""Shared fixtures: a migrated Airflow metadata DB, a real local S3 API (moto server), data.

The session's environment (an isolated Airflow home) is set by `tests.isolation`, which pytest
imports through this file before any test module, hence before Airflow reads it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.generator.generate import GenerationResult, generate
from tests.dev.generator.csv_rows import SCALE, SEED
from tests.isolation import (
    AIRFLOW_HOME,
    BIN,
    PROJECT_ROOT,
    free_port,
    use_moto_as_aws_default,
)

# The longest files first, the end-to-end module before all:
# `make test` hands whole files to workers in collection order (`--dist loadfile
# --no-loadscope-reorder`; xdist's default reorder would put the files with most tests first),
# and a long file that starts last alone sets the suite's wall time.
E2E_PREFIX = "tests/e2e/"
LONGEST_FIRST = (
    E2E_PREFIX,
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


# On 2 cores the suite is CPU-bound (measured: 956 s of CPU), and the end-to-end module, one
# file on one worker, is its longest path: alone it takes 344 s, next to two busy workers 501 s.
# The other workers yield to it (their dbt and Airflow children inherit the lower priority);
# they still get whatever CPU it leaves, so nothing waits idle. A worker lowers its priority
# once, and only when it runs something else than the e2e module. Not lower: tests of
# theirs wait on servers they start (moto, an API server) with deadlines of 30 s and more.
# The gain is not established: 456-475 s against 564 s in one hour, none in a later paired run.
YIELDING_NICENESS = 5


def pytest_runtest_setup(item: pytest.Item) -> None:
    if (
        os.environ.get("PYTEST_XDIST_WORKER")
        and not item.nodeid.startswith(E2E_PREFIX)
        and os.nice(0) < YIELDING_NICENESS
    ):
        os.nice(YIELDING_NICENESS - os.nice(0))


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
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    assert str(AIRFLOW_HOME) in str(settings.engine.url), settings.engine.url
    with create_session() as session:  # fails here, not in a later test, if on another DB
        session.query(DagModel).count()
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on localhost (moto's server), for the whole session."""
    port = free_port()
    log = (AIRFLOW_HOME / "moto.log").open("w")
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

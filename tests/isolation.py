"""The test session's isolated environment, and the paths and helpers test modules share.

Set once, on first import (the root conftest imports this module before any test module
can import Airflow, which reads its configuration once). Test modules import these names from
here, not from `tests.conftest`: pytest loads that file as `conftest`, so importing it by its
package name ran it a second time, which made a second Airflow home and pointed the
environment at it while the in-process Airflow stayed on the first. The session then migrated
one metadata DB and read another ("no such table: dag", depending on test order).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
BIN = Path(sys.executable).parent

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="olist-test-airflow-"))
# One per test process (each xdist worker): removed when it exits, or every run left one.
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        # never a database of the developer's environment
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"include\..*",
        "OLIST_DATA_DIR": str(AIRFLOW_HOME / "data"),
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

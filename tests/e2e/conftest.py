"""Fixtures for e2e tests: one real Airflow per session, its lake on the moto S3 server.

The cluster's environment is fixed when its processes start, so everything the DAGs read
from the environment is decided here, once: the landing zone is a local folder
(`e2e_landing`, which tests fill, e.g. with `write_batch`), the lake is
`s3://<e2e_bucket>/lake` on moto, reached through `AIRFLOW_CONN_AWS_DEFAULT`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_cluster import AirflowClient, AirflowCluster, free_port
from tests.isolation import PROJECT_ROOT

E2E_LAKE_PREFIX = "lake"
TOOLS_VENV = PROJECT_ROOT / ".venv-tools"


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def e2e_s3(moto_endpoint: str) -> Any:
    """A boto3 S3 client on the moto server."""
    from include.olist_risk.lake.credentials import S3Credentials

    return S3Credentials("testing", "testing", endpoint_url=moto_endpoint).boto3_client()


@pytest.fixture(scope="session")
def e2e_bucket(e2e_s3: Any) -> str:
    bucket = f"e2e-lake-{free_port()}"
    e2e_s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def e2e_landing(e2e_root: Path) -> Path:
    landing = e2e_root / "landing"
    landing.mkdir()
    return landing


@pytest.fixture(scope="session")
def e2e_env(moto_endpoint: str, e2e_bucket: str, e2e_landing: Path, e2e_root: Path) -> dict:
    """What the cluster's processes (and so its tasks) see on top of the harness defaults."""
    if not (TOOLS_VENV / "bin" / "dbt").exists():
        pytest.fail(f"{TOOLS_VENV} is missing: run `make setup` (it builds the dbt/Soda venv)")
    return {
        "OLIST_LANDING_URI": str(e2e_landing),
        "OLIST_LAKE_URI": f"s3://{e2e_bucket}/{E2E_LAKE_PREFIX}",
        "OLIST_CATALOG_PATH": str(e2e_root / "warehouse" / "olist.duckdb"),
        "OLIST_DATA_DIR": str(e2e_root / "data"),
        # dbt and Soda from their own virtualenv, as on MWAA (built by `make setup`).
        "OLIST_DBT_EXECUTABLE": str(TOOLS_VENV / "bin" / "dbt"),
        "OLIST_TOOL_PYTHON": str(TOOLS_VENV / "bin" / "python"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1", "endpoint_url": moto_endpoint},
            }
        ),
    }


# Module-scoped (one module uses it): stopped when the module ends, not left idling at full
# priority while the worker runs other files.
@pytest.fixture(scope="module")
def airflow_cluster(e2e_root: Path, e2e_env: dict) -> Iterator[AirflowCluster]:
    """A started real Airflow in a fresh home (not the unit tests' one); stopped at the end."""
    cluster = AirflowCluster(e2e_root / "airflow-home", e2e_env, isolate_tasks=True)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def airflow_api(airflow_cluster: AirflowCluster) -> AirflowClient:
    """The REST client of the module's cluster (already holding a token)."""
    return airflow_cluster.client()

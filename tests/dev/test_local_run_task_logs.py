"""Runs made by `make run` show their task logs in the Airflow UI.

A tiny DAG runs through `dev.local_run.run_dag` (what `make run` calls for each DAG), against
the same kind of metadata database (PostgreSQL from the wheel, `dev/metadata_db.py`); then the
API server's own app reads each task's log through the REST endpoint the UI's log view calls.
Both run in child processes, each with the Airflow home of the test: Airflow reads its
configuration once per process, and this pytest process already has the suite's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.metadata_db import MetadataDB, running
from tests.isolation import BIN, PROJECT_ROOT

DAG_ID = "local_run_task_logs"
LOGGED = "logged by the hello task"
PRINTED = "printed by the hello task"
FIRST_TRY = "the flaky task fails its first try"
SECOND_TRY = "the flaky task succeeds on its second try"

TINY_DAG = f'''
import logging
from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task


@dag(dag_id="{DAG_ID}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def tiny():
    @task
    def hello():
        logging.getLogger("tiny").info("{LOGGED}")
        print("{PRINTED}")

    @task(retries=1, retry_delay=timedelta(0))
    def flaky():
        if get_current_context()["ti"].try_number == 1:
            logging.getLogger("tiny").info("{FIRST_TRY}")
            raise RuntimeError("{FIRST_TRY}")
        logging.getLogger("tiny").info("{SECOND_TRY}")

    hello() >> flaky()


tiny()
'''

# What `make run` does for each DAG, on the tiny one.
RUN = """
import sys
from pathlib import Path
from dev.local_run import run_dag

run_dag(sys.argv[1], Path(sys.argv[2]))
"""

# What the UI's task log view asks the API server for, through the API server's own app.
READ_LOGS = """
import json, sys
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app

dag_id, wanted = sys.argv[1], json.loads(sys.argv[2])
with TestClient(create_app("core")) as client:
    runs = client.get(f"/api/v2/dags/{dag_id}/dagRuns").json()["dag_runs"]
    assert len(runs) == 1, runs
    run_id = runs[0]["dag_run_id"]
    logs = {}
    for task_id, try_number in wanted:
        url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 200, (url, response.status_code, response.text)
        logs[f"{task_id}/{try_number}"] = response.json()["content"]
print(json.dumps(logs))
"""


@pytest.fixture
def home() -> Iterator[Path]:
    """An Airflow home that PostgreSQL's user can reach (pytest's own temp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix="olist-run-logs-"))
    path.chmod(0o755)
    yield path / "airflow"
    MetadataDB(path / "airflow").remove()  # its socket directory is in the temp dir
    shutil.rmtree(path, ignore_errors=True)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def _events(content: list[dict]) -> list[str]:
    return [str(line.get("event")) for line in content]


def test_task_logs_of_a_local_run_are_read_by_the_api_server_per_try(home: Path) -> None:
    dags = home.parent / "dags"
    dags.mkdir()
    (dags / "tiny.py").write_text(TINY_DAG)
    with running(home) as db:
        env = _env(home, dags, db)
        _run([str(BIN / "airflow"), "db", "migrate"], env)

        run = _run([sys.executable, "-c", RUN, DAG_ID, str(home / "local_run")], env)
        assert f"{DAG_ID}: hello started" in run.stdout
        assert f"{DAG_ID}: flaky success" in run.stdout

        wanted = [("hello", 1), ("flaky", 1), ("flaky", 2)]
        read = _run([sys.executable, "-c", READ_LOGS, DAG_ID, json.dumps(wanted)], env)
    logs = json.loads(read.stdout.strip().splitlines()[-1])

    hello = logs["hello/1"]
    assert LOGGED in _events(hello)
    # print() bypasses logging; it is there, under the name a worker's supervisor gives it.
    assert {"event": PRINTED, "logger": "task.stdout"}.items() <= next(
        line for line in hello if line.get("event") == PRINTED
    ).items()
    # Read from the file under base_log_folder, where a worker would have written it.
    task_log = home / "logs" / f"dag_id={DAG_ID}"
    assert any(event.startswith(str(task_log)) for event in _events(hello)), _events(hello)[:5]
    assert all(line.get("timestamp") for line in hello if line.get("event") == LOGGED)

    # One file per try, as a worker writes them: each try shows only its own lines.
    assert FIRST_TRY in _events(logs["flaky/1"])
    assert SECOND_TRY not in _events(logs["flaky/1"])
    assert SECOND_TRY in _events(logs["flaky/2"])
    assert FIRST_TRY not in _events(logs["flaky/2"])
    # Lines outside a task (DAG parsing, the run's set-up) belong to no task's log.
    assert not any("Filling up the DagBag" in event for event in _events(hello))


def _env(home: Path, dags: Path, db: MetadataDB) -> dict[str, str]:
    return {
        **os.environ,
        **db.env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The reader's requests are authorized: what is tested is where the logs are.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }

"""Local is local: every server `make airflow` (and the e2e harness) starts listens on
127.0.0.1 unless OLIST_BIND_HOST says otherwise (issue 11, item 7).

The full Airflow is exercised by the e2e tests (tests/e2e, same `components()`); here the
commands and settings are checked as data, and the log servers, the one piece the project
runs itself (Airflow binds its own to every interface), are started for real.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from dev.local_airflow import ProcessGroup, bind_host, components, server_env
from tests.dev.sockets import listening_addresses, process_tree


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_default_bind_host_is_the_loopback_and_the_variable_changes_it() -> None:
    assert bind_host({}) == "127.0.0.1"
    assert bind_host({"OLIST_BIND_HOST": " "}) == "127.0.0.1"
    assert bind_host({"OLIST_BIND_HOST": "0.0.0.0"}) == "0.0.0.0"


def test_every_server_is_told_to_listen_on_the_bind_host() -> None:
    commands = components("airflow", "python", "127.0.0.1", 8081)
    env = server_env("127.0.0.1", 8081, env={})

    assert commands["api-server"][1:] == ["api-server", "--host", "127.0.0.1", "--port", "8081"]
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "127.0.0.1"
    # Airflow's own log servers would bind every interface: ours replace them.
    assert "--skip-serve-logs" in commands["scheduler"]
    assert "--skip-serve-logs" in commands["triggerer"]
    assert commands["scheduler-log-server"][-2:] == ["--serve-logs", "worker"]
    assert commands["triggerer-log-server"][-2:] == ["--serve-logs", "trigger"]
    # Tasks reach the execution API where it listens, on any PORT.
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "dev.local_airflow.local_hostname"


def test_a_wildcard_bind_host_is_passed_through_and_explicit_settings_are_kept() -> None:
    env = server_env("0.0.0.0", 8080, env={"AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://x/"})

    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert "AIRFLOW__CORE__EXECUTION_API_SERVER_URL" not in env  # the user's value stays
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in env
    assert components("a", "p", "0.0.0.0", 8080)["api-server"][3] == "0.0.0.0"


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")
def test_the_log_servers_listen_on_the_loopback_only(tmp_path: Path) -> None:
    ports = {"worker": _free_port(), "trigger": _free_port()}
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger"]),
    }
    env.pop("OLIST_BIND_HOST", None)
    group = ProcessGroup(tmp_path / "logs", env=env, cwd=Path(__file__).resolve().parents[2])
    commands = components("airflow", sys.executable, "unused", 0)
    for name in ("scheduler-log-server", "triggerer-log-server"):
        group.spawn(name, commands[name])
    try:
        expected = {("127.0.0.1", ports["worker"]), ("127.0.0.1", ports["trigger"])}
        deadline = time.monotonic() + 60
        listening: set[tuple[str, int]] = set()
        while time.monotonic() < deadline and listening != expected:
            assert group.exited() == {}, [p.read_text() for p in (tmp_path / "logs").iterdir()]
            time.sleep(0.5)
            listening = listening_addresses(process_tree(p.pid for p in group.processes.values()))
        assert listening == expected
        # Airflow's log-server app: a log is served only with a token signed by the secret.
        response = requests.get(f"http://127.0.0.1:{ports['worker']}/log/x.log", timeout=10)
        assert response.status_code == 403
        log = (tmp_path / "logs" / "scheduler-log-server.log").read_text()
        assert f"serving worker logs on http://127.0.0.1:{ports['worker']}" in log
    finally:
        group.stop(timeout=5)

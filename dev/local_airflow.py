"""Airflow's components as local processes: what `make airflow` runs (no Docker).

`airflow standalone` 3.3.1 hung here on Ctrl-C after its children had exited, so this
starts the API server, scheduler, DAG processor and triggerer itself, each in its own
process group with its own log, and on SIGINT or SIGTERM stops them all: SIGINT, then
SIGTERM, then SIGKILL, so that nothing is left running. The metadata database, PostgreSQL
(`dev/metadata_db.py`), starts first and stops last. The end-to-end tests start their
Airflow with the same `ProcessGroup` and `components()`.

Local is local: every server listens on 127.0.0.1 unless `OLIST_BIND_HOST` says otherwise
(e.g. `0.0.0.0` to reach the UI from another machine, at your own risk: admin/admin). That
covers the API server (UI, REST and the execution API the tasks call), the scheduler's health
check and the task-log servers. Airflow 3.3 binds its log servers (`serve_logs`, ports 8793
and 8794) to every interface with no option to change it, so the scheduler and triggerer run
with `--skip-serve-logs` and the supervisor runs those servers itself, on the bind host.
PostgreSQL has no TCP listener at all (a Unix socket, `dev/metadata_db.py`).

    python -m dev.local_airflow --port 8080
    OLIST_BIND_HOST=0.0.0.0 python -m dev.local_airflow --port 8080
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

BIND_HOST_VARIABLE = "OLIST_BIND_HOST"
LOOPBACK = "127.0.0.1"
_WILDCARDS = ("0.0.0.0", "::")


def bind_host(env: Mapping[str, str] = os.environ) -> str:
    """The address every local server listens on: 127.0.0.1 unless OLIST_BIND_HOST is set."""
    return env.get(BIND_HOST_VARIABLE, "").strip() or LOOPBACK


def local_hostname() -> str:
    """Airflow's `hostname_callable` while the servers listen on one address only.

    The API server fetches a running task's log from `http://<the task's hostname>:8793`;
    the machine's name may resolve to an address nothing listens on, the bind host does not.
    """
    return bind_host()


def _url_host(host: str) -> str:
    if host in _WILDCARDS:
        return LOOPBACK  # a wildcard listener also answers on the loopback
    return f"[{host}]" if ":" in host else host


def server_env(host: str, port: int, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The Airflow settings that put every server of one local Airflow on `host`."""
    settings = {
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": host,
    }
    # Tasks call the execution API: at the address it listens on (Airflow's default is
    # http://localhost:8080, wrong for any other PORT). Kept if set explicitly.
    defaults = {
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{_url_host(host)}:{port}/execution/"
    }
    if host not in _WILDCARDS:
        defaults["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "dev.local_airflow.local_hostname"
    return {**{k: v for k, v in defaults.items() if k not in env}, **settings}


def components(
    airflow: str, python: str, host: str, port: int, *, triggerer: bool = True
) -> dict[str, list[str]]:
    """Each component's command; every server among them listens on `host` only."""
    log_server = [python, "-m", "dev.local_airflow", "--serve-logs"]
    commands = {
        "api-server": [airflow, "api-server", "--host", host, "--port", str(port)],
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "scheduler-log-server": [*log_server, "worker"],
        "dag-processor": [airflow, "dag-processor"],
    }
    if triggerer:
        commands["triggerer"] = [airflow, "triggerer", "--skip-serve-logs"]
        commands["triggerer-log-server"] = [*log_server, "trigger"]
    return commands


def serve_logs(kind: str) -> None:
    """What `airflow scheduler` (kind `worker`) or `triggerer` (`trigger`) would serve, on the
    bind host instead of every interface: Airflow's own log-server app, port and secret."""
    import uvicorn
    from airflow.configuration import conf
    from airflow.utils.serve_logs.log_server import get_app

    host, port = bind_host(), conf.getint("logging", f"{kind}_log_server_port")
    app = get_app()
    # Airflow's logging set-up silences uvicorn's start-up lines: say where it listens.
    print(f"serving {kind} logs on http://{_url_host(host)}:{port} (bound to {host})", flush=True)
    uvicorn.run(app, host=host, port=port, access_log=False)


class ProcessGroup:
    """Named child processes, each the leader of its own process group."""

    def __init__(
        self, log_dir: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ):
        self.log_dir = log_dir
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list[IO[str]] = []

    def spawn(self, name: str, command: list[str], user: str | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("w")
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            command,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=user,
        )
        return self.processes[name]

    def exited(self) -> dict[str, int]:
        """Components that have stopped on their own, with their exit codes."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }

    def _signal(self, groups: Mapping[str, int], sig: int) -> dict[str, int]:
        alive = {}
        for name, pgid in groups.items():
            self.processes[name].poll()  # reap the leader so that a zombie does not count
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                continue
            alive[name] = pgid
        return alive

    def stop(self, timeout: float = 20.0) -> None:
        """SIGINT, then SIGTERM, then SIGKILL to every process group, until all are gone."""
        groups = {name: process.pid for name, process in self.processes.items()}
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            alive = self._signal(groups, sig)
            deadline = time.monotonic() + wait
            while alive and time.monotonic() < deadline:
                time.sleep(0.2)
                alive = self._signal(alive, 0)
            if not alive:
                break
            groups = alive
        for log in self._logs:
            log.close()
        self._logs.clear()


def main() -> None:
    from dev.metadata_db import MetadataDB

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--serve-logs", choices=("worker", "trigger"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_logs:
        serve_logs(args.serve_logs)
        return
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    airflow = str(Path(sys.executable).parent / "airflow")
    host = bind_host()
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    database = ProcessGroup(home / "logs" / "components")
    db = MetadataDB(home)
    if not db.start_in(database):
        print(f"reusing the PostgreSQL already running on {db.socket_dir}")
    env = {**os.environ, **db.env(), **server_env(host, args.port)}
    group = ProcessGroup(home / "logs" / "components", env=env)
    for name, command in components(airflow, sys.executable, host, args.port).items():
        group.spawn(name, command)
    print(
        f"Airflow on http://{_url_host(host)}:{args.port}, its servers listening on {host} "
        f"(logs: {group.log_dir}); Ctrl-C stops it"
    )
    while not stopping and not (dead := {**group.exited(), **database.exited()}):
        time.sleep(1)
    if not stopping:
        print(f"component(s) exited: {dead}; stopping the others (see their logs)")
    # Airflow first: its components write to the database until they have stopped.
    group.stop()
    database.stop()
    print("Airflow stopped")


if __name__ == "__main__":
    main()

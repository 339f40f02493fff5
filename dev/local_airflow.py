"""Airflow's components as local processes: what `make airflow` runs (no Docker).

`airflow standalone` 3.3.1 hung here on Ctrl-C after its children had exited, so this
starts the API server, scheduler, DAG processor and triggerer itself, each in its own
process group with its own log, and on SIGINT or SIGTERM stops them all: SIGINT, then
SIGTERM, then SIGKILL, so that nothing is left running. The metadata database, PostgreSQL
(`dev/metadata_db.py`), starts first and stops last. The end-to-end tests start their
Airflow with the same `ProcessGroup`.

    python -m dev.local_airflow --port 8080
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

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


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
    args = parser.parse_args()
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    airflow = str(Path(sys.executable).parent / "airflow")
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    database = ProcessGroup(home / "logs" / "components")
    db = MetadataDB(home)
    if not db.start_in(database):
        print(f"reusing the PostgreSQL already running on {db.socket_dir}")
    group = ProcessGroup(home / "logs" / "components", env={**os.environ, **db.env()})
    for name in COMPONENTS:
        extra = ["--port", str(args.port)] if name == "api-server" else []
        group.spawn(name, [airflow, name, *extra])
    print(f"Airflow on http://localhost:{args.port}  (logs: {group.log_dir}); Ctrl-C stops it")
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

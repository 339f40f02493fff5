"""A real Airflow (scheduler, DAG processor, API server, optional triggerer) for e2e tests.

Not `dag.test()`: tasks run under LocalExecutor in their own processes, talk to the
execution API over HTTP, and are observed only through the public REST API, as a user would.

    with AirflowCluster(home, env={"OLIST_LAKE_URI": ..., "AIRFLOW_CONN_AWS_DEFAULT": ...}) as af:
        api = af.client()
        api.wait_for_dag("olist_ingestion")
        api.unpause("olist_ingestion")
        run = api.trigger("olist_ingestion")
        run = api.wait_for_run("olist_ingestion", run["dag_run_id"], timeout=120)
        assert run["state"] == "success", af.diagnostics()

The metadata DB is PostgreSQL (dev/metadata_db.py, as `make airflow` runs it), started first
and stopped last. Every process logs to `home/logs/<name>.log`; `diagnostics()` returns
their tails for assertion messages. `stop()` sends SIGINT, then SIGTERM, then SIGKILL to each
process group, so nothing is left running.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from dev.local_airflow import LOOPBACK, ProcessGroup, components, server_env
from dev.metadata_db import MetadataDB

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"

# Inherited variables that would leak another Airflow's (or the unit tests') settings.
_STRIPPED_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "OLIST_")
_STRIPPED_NAMES = ("AIRFLOW_HOME", "AIRFLOW_CONFIG")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<{error}>"
    return "\n".join(text.splitlines()[-lines:])


class AirflowError(AssertionError):
    """A cluster or REST failure; its message carries the process log tails."""


class AirflowCluster:
    """Starts and stops one real Airflow in `home` (an empty temp dir) with `env` on top.

    `env` is applied last, so it may override any Airflow setting too (e.g.
    `AIRFLOW__CORE__PARALLELISM`). Put the DAGs' own settings there: `OLIST_LAKE_URI`,
    `OLIST_LANDING_URI`, `OLIST_CATALOG_PATH`, `AIRFLOW_CONN_AWS_DEFAULT`, `AWS_*`.
    """

    def __init__(
        self,
        home: Path,
        env: Mapping[str, str] | None = None,
        *,
        triggerer: bool = False,
        port: int | None = None,
        dags_folder: Path = PROJECT_ROOT / "dags",
        apply_settings: bool = True,
        startup_timeout: float = 150.0,
        isolate_tasks: bool = False,
    ) -> None:
        self.home = Path(home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.triggerer = triggerer
        self.apply_settings = apply_settings
        self.startup_timeout = startup_timeout
        self.isolate_tasks = isolate_tasks
        self.isolation_root = self.home / "task-workdirs"
        self.log_dir = self.home / "logs"
        # The metadata database of `make airflow`: PostgreSQL, not SQLite, whose locking
        # fails parallel runs under a LocalExecutor.
        self.db = MetadataDB(self.home)
        self.started_db = False  # stop() removes only a server this cluster started
        self.env = self._build_env(dags_folder, dict(env or {}))
        self.components = ProcessGroup(self.log_dir, self.env, PROJECT_ROOT)
        self.database = ProcessGroup(self.log_dir)
        self._client: AirflowClient | None = None

    # ----------------------------------------------------------------- configuration

    def _build_env(self, dags_folder: Path, overrides: dict[str, str]) -> dict[str, str]:
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_STRIPPED_PREFIXES) and name not in _STRIPPED_NAMES
        }
        passwords = self.home / "simple_auth_manager_passwords.json"
        secret = base64.b64encode(os.urandom(64)).decode()
        from cryptography.fernet import Fernet

        airflow = {
            "AIRFLOW_HOME": str(self.home),
            **self.db.env(),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"include\..*",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # Every server on 127.0.0.1, as `make airflow` runs them; tasks reach the API
            # server through the execution API there (same port as ours).
            **server_env(LOOPBACK, self.port, env={}),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            # One secret for every process: the scheduler signs task tokens, the API checks.
            "AIRFLOW__API_AUTH__JWT_SECRET": secret,
            "AIRFLOW__API__SECRET_KEY": secret,
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "task_logs"),
            # The defaults (8793/8794) clash with any other Airflow on this machine.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__WEBSERVER__WARN_DEPLOYMENT_EXPOSURE": "False",
            "SCARF_ANALYTICS": "false",
            "DO_NOT_TRACK": "1",
            "SODA_CORE_TELEMETRY_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "OLIST_DATA_DIR": str(self.home / "data"),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "PYTHONUNBUFFERED": "1",
            "OLIST_E2E_ISOLATION_ROOT": str(self.home / "task-workdirs"),
        }
        return {**base, **airflow, **overrides}

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> AirflowCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, name: str, command: list[str], timeout: float = 180) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("w") as out:
            result = subprocess.run(
                command,
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if result.returncode != 0:
            raise AirflowError(f"{' '.join(command)} exited {result.returncode}:\n{_tail(log, 60)}")

    def start(self) -> AirflowCluster:
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        (self.home / "simple_auth_manager_passwords.json").write_text(
            json.dumps({ADMIN_USER: ADMIN_PASSWORD}) + "\n"
        )
        if self.isolate_tasks:
            # Airflow imports airflow_local_settings from $AIRFLOW_HOME/config.
            self.isolation_root.mkdir(exist_ok=True)
            (self.home / "config").mkdir(exist_ok=True)
            (self.home / "config" / "airflow_local_settings.py").write_text(
                "from tests.e2e.task_isolation import task_policy  # noqa: F401\n"
            )
        try:
            self.started_db = self.db.start_in(self.database)
            self._run("db-migrate", [str(BIN / "airflow"), "db", "migrate"])
            if self.apply_settings:
                self._run(
                    "airflow-settings",
                    [sys.executable, "-m", "dev.airflow_settings"],
                )
            self.migrate_seconds = time.monotonic() - started
            # The components `make airflow` runs, all on 127.0.0.1. The log servers start once
            # the others are healthy: nothing needs them before a task runs, and on a loaded
            # 2-core machine one more interpreter importing Airflow slows the start-up.
            commands = components(
                str(BIN / "airflow"), sys.executable, LOOPBACK, self.port, triggerer=self.triggerer
            )
            log_servers = {n: c for n, c in commands.items() if n.endswith("-log-server")}
            for name, command in commands.items():
                if name not in log_servers:
                    self.components.spawn(name, command)
            self._wait_healthy(started + self.startup_timeout)
            for name, command in log_servers.items():
                self.components.spawn(name, command)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_healthy(self, deadline: float) -> None:
        wanted = ["metadatabase", "scheduler", "dag_processor"]
        if self.triggerer:
            wanted.append("triggerer")
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
                last = response.json() if response.ok else response.text
                if response.ok and all(
                    (last.get(part) or {}).get("status") == "healthy" for part in wanted
                ):
                    self.client().token()
                    return
            except requests.RequestException as error:
                last = repr(error)
            time.sleep(1)
        raise AirflowError(f"Airflow not healthy in time; health: {last}\n{self.diagnostics()}")

    def check_alive(self) -> None:
        """Fail (with the logs) if a component has exited."""
        dead = self.components.exited()
        if dead:
            raise AirflowError(f"Airflow components exited: {dead}\n{self.diagnostics()}")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every component (see ProcessGroup.stop), the database last, and delete the
        database's files: nothing is left (under a private home they live in the temp dir)."""
        self.components.stop(timeout)
        self.database.stop(timeout)
        if self.started_db:
            self.db.remove()

    # ----------------------------------------------------------------- observation

    def diagnostics(self, lines: int = 40) -> str:
        """The tails of every component's log, for assertion messages."""
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            parts.append(f"----- {log.name} (last {lines} lines) -----\n{_tail(log, lines)}")
        return "\n".join(parts)

    def client(self) -> AirflowClient:
        if self._client is None:
            self._client = AirflowClient(self.url, ADMIN_USER, ADMIN_PASSWORD, cluster=self)
        return self._client


class AirflowClient:
    """The slice of Airflow's public REST API (v2) the e2e tests need."""

    def __init__(
        self,
        url: str,
        username: str = ADMIN_USER,
        password: str = ADMIN_PASSWORD,
        *,
        cluster: AirflowCluster | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.cluster = cluster
        self.session = requests.Session()
        self._token: str | None = None

    # ----------------------------------------------------------------- plumbing

    def _fail(self, message: str) -> AirflowError:
        extra = f"\n{self.cluster.diagnostics()}" if self.cluster else ""
        return AirflowError(message + extra)

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
        )
        if response.status_code not in (200, 201):
            raise self._fail(f"POST /auth/token: {response.status_code} {response.text[:500]}")
        self._token = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self._token}"
        return self._token

    def request(
        self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any
    ) -> requests.Response:
        """One call; re-authenticates on 401 and retries 503 (SQLite busy) for up to a minute."""
        if self._token is None:
            self.token()
        kwargs.setdefault("timeout", 60)
        deadline = time.monotonic() + 60
        while True:
            response = self.session.request(method, f"{self.url}{path}", **kwargs)
            if response.status_code == 401:
                self.token()
                continue
            if response.status_code == 503 and time.monotonic() < deadline:
                time.sleep(1)
                continue
            if response.status_code not in tuple(ok):
                raise self._fail(f"{method} {path}: {response.status_code} {response.text[:2000]}")
            return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    # ----------------------------------------------------------------- DAGs

    def dag(self, dag_id: str) -> dict | None:
        response = self.request("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404))
        return response.json() if response.status_code == 200 else None

    def import_errors(self) -> list[dict]:
        return self.get("/api/v2/importErrors")["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict:
        """Until the DAG processor has serialised `dag_id`; fails early on its import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cluster:
                self.cluster.check_alive()
            dag = self.dag(dag_id)
            if dag is not None:
                return dag
            time.sleep(1)
        raise self._fail(f"DAG {dag_id} not parsed in {timeout}s; errors: {self.import_errors()}")

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self.request(
            "PATCH",
            f"/api/v2/dags/{dag_id}",
            params={"update_mask": "is_paused"},
            json={"is_paused": paused},
        ).json()

    def unpause(self, dag_id: str) -> dict:
        return self.set_paused(dag_id, False)

    # ----------------------------------------------------------------- runs

    def trigger(
        self,
        dag_id: str,
        *,
        logical_date: datetime | str | None = None,
        conf: dict | None = None,
        run_id: str | None = None,
        note: str | None = None,
    ) -> dict:
        """POST a manual run; `logical_date=None` is allowed in Airflow 3 (no interval)."""
        body: dict[str, Any] = {
            "logical_date": _iso(logical_date),
            "conf": conf or {},
        }
        if run_id:
            body["dag_run_id"] = run_id
        if note:
            body["note"] = note
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict]:
        """All runs of a DAG, oldest first; `filters` are query params (run_type, state...)."""
        runs: list[dict] = []
        while True:
            page = self.get(
                f"/api/v2/dags/{dag_id}/dagRuns",
                order_by="logical_date",
                limit=100,
                offset=len(runs),
                **filters,
            )
            runs.extend(page["dag_runs"])
            if not page["dag_runs"] or len(runs) >= (page.get("total_entries") or 0):
                return runs

    def wait_for_run(
        self, dag_id: str, run_id: str, *, timeout: float = 120, poll: float = 2
    ) -> dict:
        """Until the run is success/failed; returns the run (check its `state`)."""
        return self.wait_for_runs(dag_id, [run_id], timeout=timeout, poll=poll)[0]

    def wait_for_runs(
        self, dag_id: str, run_ids: Iterable[str], *, timeout: float = 300, poll: float = 2
    ) -> list[dict]:
        run_ids = list(run_ids)
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        while time.monotonic() < deadline:
            if self.cluster:
                self.cluster.check_alive()
            runs = [self.dag_run(dag_id, run_id) for run_id in run_ids]
            if all(run["state"] in TERMINAL_RUN_STATES for run in runs):
                return runs
            time.sleep(poll)
        states = {run["dag_run_id"]: run["state"] for run in runs}
        tis = {rid: self.task_states(dag_id, rid) for rid in run_ids}
        raise self._fail(f"runs not finished in {timeout}s: {states}; task states: {tis}")

    # ----------------------------------------------------------------- backfills

    def create_backfill(
        self,
        dag_id: str,
        from_date: datetime | str,
        to_date: datetime | str,
        *,
        max_active_runs: int = 1,
        reprocess_behavior: str = "none",
        run_backwards: bool = False,
        dag_run_conf: dict | None = None,
        run_on_latest_version: bool | None = None,
    ) -> dict:
        """POST /api/v2/backfills; `reprocess_behavior` is none | failed | completed."""
        body: dict[str, Any] = {
            "dag_id": dag_id,
            "from_date": _iso(from_date),
            "to_date": _iso(to_date),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess_behavior,
            "run_backwards": run_backwards,
        }
        if dag_run_conf is not None:
            body["dag_run_conf"] = dag_run_conf
        if run_on_latest_version is not None:
            body["run_on_latest_version"] = run_on_latest_version
        return self.request("POST", "/api/v2/backfills", json=body).json()

    def backfill(self, backfill_id: int) -> dict:
        return self.get(f"/api/v2/backfills/{backfill_id}")

    def backfill_runs(self, backfill: dict) -> list[dict]:
        """The backfill's runs (the API has no backfill_id filter: type + date range)."""
        return self.dag_runs(
            backfill["dag_id"],
            run_type="backfill",
            logical_date_gte=backfill["from_date"],
            logical_date_lte=backfill["to_date"],
        )

    def wait_for_backfill(
        self, backfill: dict, *, expected_runs: int | None = None, timeout: float = 300
    ) -> list[dict]:
        """Until the backfill is completed and all its runs are terminal; returns the runs."""
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        state: dict = backfill
        while time.monotonic() < deadline:
            if self.cluster:
                self.cluster.check_alive()
            state = self.backfill(backfill["id"])
            runs = self.backfill_runs(backfill)
            enough = expected_runs is None or len(runs) >= expected_runs
            if (
                enough
                and state.get("completed_at")
                and all(r["state"] in TERMINAL_RUN_STATES for r in runs)
            ):
                return runs
            time.sleep(2)
        summary = {r["dag_run_id"]: r["state"] for r in runs}
        raise self._fail(f"backfill {backfill['id']} not done in {timeout}s: {state} {summary}")

    # ----------------------------------------------------------------- task instances

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of a run, mapped ones included (one per map_index)."""
        tis: list[dict] = []
        while True:
            page = self.get(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                limit=100,
                offset=len(tis),
            )
            tis.extend(page["task_instances"])
            if not page["task_instances"] or len(tis) >= page["total_entries"]:
                return tis

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """`{"task" or "task[map_index]": state}`, handy in assertion messages."""
        return {
            ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
            for ti in self.task_instances(dag_id, run_id)
        }

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value, deserialized."""
        entry = self.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            deserialize="true",
        )
        return entry["value"]

    def run_report(self, dag_id: str, run_id: str, *, lines: int = 60) -> str:
        """Task states, the logs of failed tasks, and the component logs: for assertions."""
        parts = [f"run {dag_id}/{run_id}: {self.dag_run(dag_id, run_id)['state']}"]
        for ti in self.task_instances(dag_id, run_id):
            label = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            parts.append(f"  {label}: {ti['state']} (try {ti['try_number']})")
            if ti["state"] in ("failed", "up_for_retry") and ti["try_number"]:
                try:
                    log = self.task_log(
                        dag_id, run_id, ti["task_id"], ti["try_number"], map_index=ti["map_index"]
                    )
                except AirflowError as error:
                    log = f"<log unavailable: {str(error)[:300]}>"
                tail = "\n".join(log.splitlines()[-lines:])
                parts.append(f"----- task log {label} try {ti['try_number']} -----\n{tail}")
        if self.cluster:
            parts.append(self.cluster.diagnostics())
        return "\n".join(parts)

    def task_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int = 1,
        *,
        map_index: int = -1,
    ) -> str:
        """The task instance's full log as text, one line per structured event."""
        payload = self.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            full_content="true",
            map_index=map_index,
        )
        lines = []
        for item in payload.get("content") or []:
            if isinstance(item, str):
                lines.append(item)
                continue
            extra = {k: v for k, v in item.items() if k not in ("event", "timestamp", "level")}
            level = item.get("level", "")
            lines.append(
                f"[{item.get('timestamp', '')}] {level} {item.get('event', '')}"
                + (f" {json.dumps(extra, default=str)}" if extra else "")
            )
        return "\n".join(lines)


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()

"""PostgreSQL for the local Airflow's metadata, from the `pgserver` wheel's binaries.

SQLite is not a metadata database for a LocalExecutor with parallel runs: a backfill through
the REST API got "database is locked" and then crashed the scheduler. This server needs no
Docker and no system package. Its data lives under `$AIRFLOW_HOME/postgres/`; it listens
only on a Unix socket (`listen_addresses=` empty: no TCP port, nothing to clash with, nothing
reachable from another host, not even with `OLIST_BIND_HOST` set for the Airflow servers).
PostgreSQL refuses to run as root, so as root (CI, containers) it runs as `nobody`.

    python -m dev.metadata_db -- airflow db migrate    # a command with the server up

`make airflow` supervises it with the other components (Ctrl-C stops it); a second start
finds it running and reuses it; a lock file left by a crash is removed before starting.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dev.local_airflow import ProcessGroup

DATABASE = "airflow"
ROLE = "airflow"


def _bin(name: str) -> str:
    # The wheel's binaries, found without importing pgserver (its import has side effects).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed: run `make setup`")
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


class MetadataDB:
    """One PostgreSQL cluster for one Airflow home."""

    def __init__(self, airflow_home: Path) -> None:
        home = Path(airflow_home).absolute()
        self.user = "nobody" if os.geteuid() == 0 else None
        digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
        scratch = Path(tempfile.gettempdir())
        # `nobody` must be able to reach its data: under a private prefix (a root-only home
        # directory, pytest's temp dirs) the cluster goes to the temp dir instead.
        reachable = self.user is None or all(
            parent.stat().st_mode & stat.S_IXOTH for parent in home.parents if parent.exists()
        )
        self.root = home / "postgres" if reachable else scratch / f"olist-pg-data-{digest}"
        self.data = self.root / "data"
        # A socket path must stay under ~100 bytes: it lives in the temp dir, named for the
        # Airflow home, so two checkouts never share a server.
        self.socket_dir = scratch / f"olist-pg-{digest}"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{ROLE}@/{DATABASE}?host={self.socket_dir}"

    def env(self) -> dict[str, str]:
        """What Airflow processes need to use this database."""
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.url.replace("+psycopg2", "+asyncpg"),
        }

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, user=self.user, capture_output=True, text=True, check=check, cwd=self.root
        )

    def initialize(self) -> None:
        """Create the cluster once; later starts reuse it."""
        self._own(self.root)
        self._own(self.socket_dir)
        if (self.data / "PG_VERSION").exists():
            return
        self._own(self.data)
        self._run([_bin("initdb"), "-D", str(self.data), "-U", ROLE, "--auth=trust",
                   "-E", "UTF8", "--locale=C"])  # fmt: skip

    def is_running(self) -> bool:
        status = self._run([_bin("pg_ctl"), "status", "-D", str(self.data)], check=False)
        return status.returncode == 0

    def clear_stale_lock(self) -> None:
        """A crash leaves postmaster.pid (and the socket's lock) behind; no server owns them."""
        if not self.is_running():
            for stale in (self.data / "postmaster.pid", self.socket_dir / ".s.PGSQL.5432.lock"):
                stale.unlink(missing_ok=True)

    def server_command(self) -> list[str]:
        return [_bin("postgres"), "-D", str(self.data), "-k", str(self.socket_dir),
                "-c", "listen_addresses=", "-c", "max_connections=200"]  # fmt: skip

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self._run(
                [_bin("pg_isready"), "-h", str(self.socket_dir), "-U", ROLE, "-d", "postgres"],
                check=False,
            )
            if ready.returncode == 0:
                self._ensure_database()
                return
            time.sleep(0.3)
        raise RuntimeError(f"PostgreSQL in {self.data} not ready after {timeout:.0f}s")

    def _ensure_database(self) -> None:
        query = f"select 1 from pg_database where datname = '{DATABASE}'"
        psql = [_bin("psql"), "-h", str(self.socket_dir), "-U", ROLE, "-d", "postgres"]
        exists = self._run([*psql, "-tAc", query]).stdout.strip()
        if exists != "1":
            self._run([_bin("createdb"), "-h", str(self.socket_dir), "-U", ROLE, DATABASE])

    def remove(self) -> None:
        """Delete the cluster's data and socket directories, once its server has stopped: for a
        throw-away Airflow home, whose cluster may live in the temp dir, outside that home."""
        if self.data.exists() and self.is_running():
            raise RuntimeError(f"PostgreSQL in {self.data} still runs: stop it first")
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def start_in(self, group: ProcessGroup) -> bool:
        """Start the server as a member of `group`; False when one already runs (reused)."""
        self.initialize()
        if self.is_running():
            self.wait_ready()
            return False
        self.clear_stale_lock()
        group.spawn("postgres", self.server_command(), user=self.user)
        self.wait_ready()
        return True


@contextmanager
def running(airflow_home: Path) -> Iterator[MetadataDB]:
    """The server up for the duration of the block (stopped after, if this started it)."""
    db = MetadataDB(airflow_home)
    group = ProcessGroup(db.root / "logs")
    try:
        db.start_in(group)
        yield db
    finally:
        group.stop()


def main() -> None:
    command = sys.argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise SystemExit("usage: python -m dev.metadata_db -- COMMAND [ARGS...]")
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    with running(home) as db:
        executable = shutil.which(command[0]) or command[0]
        result = subprocess.run([executable, *command[1:]], env={**os.environ, **db.env()})
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()

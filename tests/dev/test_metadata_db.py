"""The local Airflow's PostgreSQL (from the pgserver wheel): started, reused, recovered, stopped."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from dev.local_airflow import ProcessGroup
from dev.metadata_db import MetadataDB


@pytest.fixture
def home() -> Iterator[Path]:
    """An Airflow home that the server's user can reach (pytest's own temp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix="olist-pg-test-"))
    path.chmod(0o755)
    yield path / "airflow"
    MetadataDB(path / "airflow").remove()  # its socket directory is in the temp dir
    shutil.rmtree(path, ignore_errors=True)


def _query(db: MetadataDB, sql: str) -> object:
    con = psycopg2.connect(dbname="airflow", user="airflow", host=str(db.socket_dir))
    try:
        with con, con.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0] if cursor.description else None
    finally:
        con.close()


def test_the_server_starts_keeps_its_data_in_the_home_and_a_second_start_reuses_it(
    home: Path, tmp_path: Path
) -> None:
    home.mkdir()
    first, second = ProcessGroup(tmp_path / "first"), ProcessGroup(tmp_path / "second")
    db = MetadataDB(home)
    try:
        assert db.start_in(first) is True
        assert db.data == home / "postgres" / "data"
        _query(db, "create table kept (value int); insert into kept values (42)")
        assert MetadataDB(home).start_in(second) is False  # found running: reused
        assert second.processes == {}
    finally:
        first.stop()
    assert not db.is_running()

    again = ProcessGroup(tmp_path / "again")
    try:
        assert db.start_in(again) is True
        assert _query(db, "select value from kept") == 42
    finally:
        again.stop()


def test_a_lock_left_by_a_crash_is_cleared_at_the_next_start(home: Path, tmp_path: Path) -> None:
    home.mkdir()
    db = MetadataDB(home)
    crashed = ProcessGroup(tmp_path / "crashed")
    db.start_in(crashed)
    os.killpg(crashed.processes["postgres"].pid, signal.SIGKILL)
    crashed.processes["postgres"].wait()
    assert (db.data / "postmaster.pid").exists()

    restarted = ProcessGroup(tmp_path / "restarted")
    try:
        assert db.start_in(restarted) is True
        assert _query(db, "select 1") == 1
    finally:
        restarted.stop()
        crashed.stop()


def test_the_running_server_listens_on_its_unix_socket_only(home: Path, tmp_path: Path) -> None:
    home.mkdir()
    db = MetadataDB(home)
    group = ProcessGroup(tmp_path / "logs")
    try:
        db.start_in(group)
        # postmaster.pid: line 5 the socket directory, line 6 the TCP listen address
        lines = (db.data / "postmaster.pid").read_text().splitlines()
        assert lines[4] == str(db.socket_dir)
        assert lines[5].strip() == ""  # no TCP listener at all
        assert db.env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith(f"?host={db.socket_dir}")
    finally:
        group.stop()


def test_remove_refuses_a_running_cluster_and_deletes_a_stopped_ones_files(tmp_path: Path) -> None:
    # Under pytest's private temp dir: as root the cluster lives in the temp dir, outside the
    # home, where deleting the home would leave it behind.
    db = MetadataDB(tmp_path / "airflow")
    group = ProcessGroup(tmp_path / "logs")
    try:
        db.start_in(group)
        with pytest.raises(RuntimeError, match="still runs"):
            db.remove()
    finally:
        group.stop()
    assert db.data.exists()

    db.remove()

    assert not db.root.exists() and not db.socket_dir.exists()

"""Files a local lake writes look like any other file (issue 11, item 7): the mode an
ordinary write gives (0666 less the umask; 0644 under the usual 022), folders as mkdir makes
them, and no temporary file left behind, even when the write fails."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.olist_risk.lake.storage import LocalLake, write_json


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _every_entry(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def test_written_files_and_folders_get_ordinary_modes(tmp_path: Path, umask: int) -> None:
    lake = LocalLake(tmp_path / "lake")
    source = tmp_path / "local.parquet"
    source.write_bytes(b"PAR1")

    lake.write_bytes("raw/_current.json", b"{}")
    write_json(lake, "warehouse/_latest.json", {"a": 1})
    lake.put_file(source, "feature_store/snapshot_date=2018-06-01/data_0.parquet")
    assert lake.replace_if_unchanged("raw/_pointer.json", b"{}", None)

    files = [p for p in _every_entry(lake.path) if p.is_file() and not p.name.endswith(".lock")]
    folders = [p for p in _every_entry(lake.path) if p.is_dir()]
    assert len(files) == 4 and folders
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
    assert {p.name: _mode(p) for p in folders} == {p.name: 0o777 & ~umask for p in folders}


def test_a_replaced_file_gets_the_ordinary_mode_too(tmp_path: Path, umask: int) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_bytes("raw/_current.json", b"old")
    (lake.path / "raw/_current.json").chmod(0o600)

    lake.write_bytes("raw/_current.json", b"new")

    assert _mode(lake.path / "raw/_current.json") == 0o666 & ~umask


def test_a_failed_write_leaves_no_temporary_file_and_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_bytes("raw/_current.json", b"old")
    source = tmp_path / "local.parquet"
    source.write_bytes(b"PAR1")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("include.olist_risk.lake.storage.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        lake.write_bytes("raw/_current.json", b"new")
    with pytest.raises(OSError, match="No space left"):
        lake.put_file(source, "raw/_current.json")
    with pytest.raises(FileNotFoundError):
        lake.put_file(tmp_path / "missing.parquet", "raw/other.parquet")

    assert [p.name for p in _every_entry(lake.path)] == ["raw", "_current.json"]
    assert lake.read_bytes("raw/_current.json") == b"old"

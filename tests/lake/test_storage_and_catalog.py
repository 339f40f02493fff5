"""The lake interface behaves the same on a folder and on S3; the catalog follows the pointer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from include.olist_risk.feature_store.publish import (
    MODEL_DIR,
    collect_garbage,
    replace_latest_build,
)
from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.catalog import REFRESH_ATTEMPTS, catalog_views, refresh_catalog
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import run_build_prefix
from include.olist_risk.lake.storage import Lake, LocalLake, S3Lake, read_json, write_json
from tests.feature_store.publish_helpers import build
from tests.ingestion.conftest import ROWS, write_batch

MODEL = MODEL_DIR.removeprefix("gold/")


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path: Path) -> Lake:
    if request.param == "local":
        return LocalLake(tmp_path / "lake")
    credentials = S3Credentials(
        "testing", "testing", endpoint_url=request.getfixturevalue("moto_endpoint")
    )
    bucket = request.getfixturevalue("s3_bucket")
    return S3Lake(f"s3://{bucket}/prefix", credentials.boto3_client())


def test_a_prefix_lists_its_folder_only_not_siblings_sharing_its_name(lake: Lake) -> None:
    for key in ("raw/a.json", "raw/sub/b.json", "raw2/c.json", "rawish.json"):
        write_json(lake, key, {"key": key})

    assert lake.list("raw") == ["raw/a.json", "raw/sub/b.json"]
    assert lake.list("raw/a.json") == ["raw/a.json"]
    assert lake.list("missing") == []
    assert read_json(lake, "raw/sub/b.json") == {"key": "raw/sub/b.json"}


def test_delete_prefix_removes_the_folder_and_keeps_its_siblings(lake: Lake) -> None:
    for key in ("runs/1/x.parquet", "runs/1/y/z.parquet", "runs/10/x.parquet"):
        lake.write_bytes(key, b"x")

    lake.delete_prefix("runs/1")

    assert not lake.exists("runs/1/x.parquet")
    assert lake.list("runs") == ["runs/10/x.parquet"]


def test_put_and_get_file_round_trip_bytes(lake: Lake, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)))

    lake.put_file(source, "files/in.bin")
    lake.get_file("files/in.bin", tmp_path / "out" / "in.bin")

    assert (tmp_path / "out" / "in.bin").read_bytes() == source.read_bytes()


def test_catalog_views_read_the_batch_the_pointer_names(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    batch_id = ingest_folder(LocalLake(write_batch(tmp_path / "landing")), lake)
    catalog = tmp_path / "catalog" / "olist.duckdb"

    views = refresh_catalog(lake, catalog)

    assert views == catalog_views(lake)
    assert sorted(views["raw"]) == sorted(ROWS)
    assert all(f"batch={batch_id}" in source for source in views["raw"].values())
    with connect(catalog, read_only=True) as con:
        counts = {
            name: con.execute(f"select count(*) from raw.{name}").fetchone()[0] for name in ROWS
        }
    assert counts == {name: len(rows) for name, rows in ROWS.items()}
    assert lake.exists("catalog/olist.duckdb")


def test_replace_if_unchanged_writes_only_over_the_version_it_read(lake: Lake) -> None:
    assert lake.read_versioned("p/_current.json") == (None, None)
    assert lake.replace_if_unchanged("p/_current.json", b"one", None)
    assert not lake.replace_if_unchanged("p/_current.json", b"again", None)
    data, version = lake.read_versioned("p/_current.json")
    assert data == b"one"

    assert lake.replace_if_unchanged("p/_current.json", b"two", version)
    # a writer still holding the first version lost the race: its write is refused
    assert not lake.replace_if_unchanged("p/_current.json", b"stale", version)
    assert lake.read_bytes("p/_current.json") == b"two"
    assert lake.list("p") == ["p/_current.json"]


def test_modified_times_cover_every_file_under_the_prefix(lake: Lake) -> None:
    for key in ("runs/a/x.parquet", "runs/a/y/z.json", "other/w"):
        lake.write_bytes(key, b"x")

    times = lake.modified_times("runs")

    assert sorted(times) == ["runs/a/x.parquet", "runs/a/y/z.json"]
    assert all(abs(time.time() - moment) < 300 for moment in times.values())


def test_catalog_views_work_on_a_lake_path_with_a_quote(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "o'brien's lake")
    ingest_folder(LocalLake(write_batch(tmp_path / "landing")), lake)
    catalog = tmp_path / "catalog" / "olist.duckdb"

    refresh_catalog(lake, catalog)

    with connect(catalog, read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == len(ROWS["orders"])


SNAPSHOTS = {"2017-04-01": 2}


def run_build(lake: Lake, run_id: str, tmp: Path) -> str:
    """A run's gold build (`build`: the run's id in a column of every row)."""
    return build(lake, run_id, SNAPSHOTS, "batch-1", tmp / run_id)


class PublishDuring(LocalLake):
    """A lake on which another run publishes (`publish(lake)`, `times` times) right after the
    refresh calls `method` on `key`: before it creates its views (`list` of a build's layer)
    or while it writes the catalog (`put_file` of the lake's copy)."""

    def __init__(
        self, root: Path, method: str, key: str, publish: Callable[[Lake], None], times: int = 1
    ) -> None:
        super().__init__(root)
        self.method, self.key, self.publish, self.times = method, key, publish, times

    def _called(self, method: str, key: str) -> None:
        if (method, key) == (self.method, self.key) and self.times:
            self.times -= 1
            self.publish(self)

    def list(self, prefix: str) -> list[str]:
        keys = super().list(prefix)
        self._called("list", prefix)
        return keys

    def put_file(self, local_path: Path, key: str) -> None:
        super().put_file(local_path, key)
        self._called("put_file", key)


@pytest.mark.parametrize(
    "method, key",
    [("list", f"{run_build_prefix('first')}/gold"), ("put_file", "catalog/olist.duckdb")],
    ids=["before-its-views", "while-it-writes"],
)
def test_a_publish_during_a_refresh_makes_it_start_over_on_the_newer_build(
    tmp_path: Path, method: str, key: str
) -> None:
    first = run_build(LocalLake(tmp_path / "lake"), "first", tmp_path)
    replace_latest_build(LocalLake(tmp_path / "lake"), [first])

    def second_run_publishes(lake: Lake) -> None:
        second = run_build(lake, "second", tmp_path)
        superseded = replace_latest_build(lake, [second])
        assert collect_garbage(lake, superseded_builds=superseded)["run_builds"] == [first]

    lake = PublishDuring(tmp_path / "lake", method, key, second_run_publishes)
    catalog = tmp_path / "catalog" / "olist.duckdb"

    views = refresh_catalog(lake, catalog)

    assert lake.times == 0, "the publish was not injected"
    assert views == catalog_views(lake)
    assert run_build_prefix("second") in views["gold"][MODEL]
    lake.get_file("catalog/olist.duckdb", tmp_path / "lake-copy.duckdb")
    for path in (catalog, tmp_path / "lake-copy.duckdb"):
        with connect(path, read_only=True) as con:
            assert con.execute(f"select distinct run from gold.{MODEL}").fetchall() == [("second",)]


def test_a_file_missing_with_nothing_published_fails_the_refresh(tmp_path: Path) -> None:
    only = run_build(LocalLake(tmp_path / "lake"), "only", tmp_path)
    replace_latest_build(LocalLake(tmp_path / "lake"), [only])

    def lose_a_file(lake: Lake) -> None:
        for key in lake.list(f"{only}/gold"):
            Path(lake.uri(key)).unlink()

    lake = PublishDuring(tmp_path / "lake", "list", f"{only}/gold", lose_a_file)
    catalog = tmp_path / "catalog" / "olist.duckdb"

    with pytest.raises(duckdb.IOException, match=MODEL):
        refresh_catalog(lake, catalog)

    assert not catalog.exists() and not lake.exists("catalog/olist.duckdb")


def test_a_refresh_overtaken_by_publish_after_publish_gives_up_saying_so(tmp_path: Path) -> None:
    first = run_build(LocalLake(tmp_path / "lake"), "run-0", tmp_path)
    replace_latest_build(LocalLake(tmp_path / "lake"), [first])
    published = []

    def another_run_publishes(lake: Lake) -> None:
        newer = run_build(lake, f"run-{len(published) + 1}", tmp_path)
        collect_garbage(lake, superseded_builds=replace_latest_build(lake, [newer]))
        lake.key = f"{newer}/gold"  # and again once the refresh lists the newer build
        published.append(newer)

    lake = PublishDuring(tmp_path / "lake", "list", f"{first}/gold", another_run_publishes, 99)

    with pytest.raises(RuntimeError, match=f"overtook each of {REFRESH_ATTEMPTS} catalog"):
        refresh_catalog(lake, tmp_path / "catalog" / "olist.duckdb")

    assert len(published) == REFRESH_ATTEMPTS

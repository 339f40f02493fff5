"""Publishing is all or nothing (issue 11, item 5): readers see the complete previous set or the
complete new one, whatever happens mid-publish; a set never mixes batches or code versions."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.olist_risk.feature_store.publish import (
    PublishRefused,
    RetentionSettings,
    collect_garbage,
    publish_snapshots,
    replace_latest_build,
)
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import (
    FEATURE_STORE_POINTER_KEY,
    LATEST_BUILD_KEY,
    POINTER_KEY,
    PUBLICATIONS_PREFIX,
    run_build_prefix,
)
from include.olist_risk.lake.storage import Lake, LocalLake, S3Lake, write_json
from tests.feature_store.publish_helpers import (
    CODE,
    WRITES,
    FailingLake,
    build,
    publish,
    via_catalog,
    via_pointer,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OLD = {"2017-02-01": 3, "2017-03-01": 4, "2017-04-01": 5}
NEW = {"2017-02-01": 6, "2017-03-01": 7, "2017-04-01": 8}


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path: Path) -> tuple[Lake, S3Credentials | None]:
    if request.param == "local":
        return LocalLake(tmp_path / "lake"), None
    credentials = S3Credentials(
        "testing", "testing", endpoint_url=request.getfixturevalue("moto_endpoint")
    )
    bucket = request.getfixturevalue("s3_bucket")
    return S3Lake(f"s3://{bucket}/lake", credentials.boto3_client()), credentials


def expected(snapshots: dict[str, int], batch: str, run: str) -> dict[str, tuple]:
    return {snapshot: (rows, batch, run) for snapshot, rows in snapshots.items()}


def published_old_set(lake: Lake, tmp: Path) -> dict[str, tuple]:
    build(lake, "old", OLD, "batch-a", tmp / "build")
    publish(lake, "old", "batch-a", full_refresh=True)
    build(lake, "new", NEW, "batch-b", tmp / "build")
    return expected(OLD, "batch-a", "old")


def assert_readers_see(lake: Lake, tmp: Path, credentials, state: dict[str, tuple]) -> None:
    assert via_pointer(lake, credentials) == state
    assert via_catalog(lake, tmp, credentials) == state


# --- (a) a failure at any write leaves the previous set; the retry publishes -----------------


@pytest.mark.parametrize("fail_at", range(2 * len(NEW) + 1))
def test_a_failed_full_refresh_leaves_readers_on_the_complete_previous_set(
    backend, tmp_path: Path, fail_at: int
) -> None:
    lake, credentials = backend
    old = published_old_set(lake, tmp_path)
    pointer_before = lake.read_bytes(FEATURE_STORE_POINTER_KEY)
    full_disk = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left"):
        publish(FailingLake(lake, fail_at, full_disk), "new", "batch-b", full_refresh=True)

    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == pointer_before
    assert_readers_see(lake, tmp_path, credentials, old)
    publish(lake, "new", "batch-b", full_refresh=True)
    assert_readers_see(lake, tmp_path, credentials, expected(NEW, "batch-b", "new"))


def test_a_copy_that_does_not_match_the_build_is_never_published(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    old = published_old_set(lake, tmp_path)

    class Truncating(FailingLake):
        def put_file(self, local_path: Path, key: str) -> None:
            short = tmp_path / "short.parquet"
            short.write_bytes(local_path.read_bytes()[:-100])
            lake.put_file(short, key)

    with pytest.raises(RuntimeError, match="does not match the built file"):
        publish(Truncating(lake, fail_at=-1), "new", "batch-b", full_refresh=True)

    assert_readers_see(lake, tmp_path, None, old)


# --- (b) SIGKILL: the publishing process dies at several points -----------------------------

CHILD = """
import os
import signal
import sys
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.storage import open_lake
from tests.feature_store.publish_helpers import FailingLake, publish

uri, endpoint, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
credentials = S3Credentials("testing", "testing", endpoint_url=endpoint) if endpoint else None
lake = open_lake(uri, credentials)
publish(FailingLake(lake, kill_at, kill=True), "new", "batch-b", full_refresh=True)
os.kill(os.getpid(), signal.SIGKILL)  # past the last write: killed right after the flip
"""


@pytest.mark.parametrize("kill_at", [0, 3, 6, 7])
def test_sigkill_at_any_point_leaves_a_complete_set(backend, tmp_path: Path, kill_at: int) -> None:
    """The child publishes 3 snapshots (7 writes: files and manifests, then the pointer) and is
    SIGKILLed right before write `kill_at`: 6 is the pointer flip, 7 is after it."""
    lake, credentials = backend
    old = published_old_set(lake, tmp_path)
    endpoint = credentials.endpoint_url if credentials else ""

    child = subprocess.run(
        [sys.executable, "-c", CHILD, lake.root, endpoint, str(kill_at)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert child.returncode == -signal.SIGKILL, child.stderr
    new = expected(NEW, "batch-b", "new")
    assert_readers_see(lake, tmp_path, credentials, new if kill_at > 2 * len(NEW) else old)
    publish(lake, "new", "batch-b", full_refresh=True)
    assert_readers_see(lake, tmp_path, credentials, new)


@pytest.mark.parametrize("delay", [0.6, 0.9, 1.2, 1.5])
def test_sigkill_after_a_delay_leaves_the_old_or_the_new_set(tmp_path: Path, delay: float) -> None:
    """No cue at all: the child is killed after a plain delay, wherever it is (importing,
    copying a file, writing a manifest, flipping). The point varies with the machine's load;
    what readers see may not: the complete old set or the complete new one."""
    lake = LocalLake(tmp_path / "lake")
    old = published_old_set(lake, tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, lake.root, "", "-1"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    seen = via_pointer(lake)
    assert seen in (old, expected(NEW, "batch-b", "new"))
    assert via_catalog(lake, tmp_path) == seen


# --- (c) the S3 endpoint goes away mid-publish ----------------------------------------------


@pytest.mark.parametrize("outage_at", [0, 3, 6])
def test_an_s3_outage_mid_publish_leaves_the_previous_set(
    moto_endpoint: str, s3_bucket: str, tmp_path: Path, outage_at: int
) -> None:
    from botocore.exceptions import EndpointConnectionError

    credentials = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    lake = S3Lake(f"s3://{s3_bucket}/lake", credentials.boto3_client())
    old = published_old_set(lake, tmp_path)

    class Outage(FailingLake):
        """From write `outage_at` on, every call (reads too) goes to an endpoint that is down."""

        def __getattr__(self, name: str):
            if name in WRITES:
                if self.writes == outage_at:
                    self._lake = S3Lake(lake.root, _unreachable_client())
                self.writes += 1
            return getattr(self._lake, name)

    with pytest.raises(EndpointConnectionError):
        publish(Outage(lake, outage_at), "new", "batch-b", full_refresh=True)

    assert_readers_see(lake, tmp_path, credentials, old)
    publish(lake, "new", "batch-b", full_refresh=True)
    assert_readers_see(lake, tmp_path, credentials, expected(NEW, "batch-b", "new"))


def _unreachable_client():
    """An S3 client for a port nothing listens on, failing at once (no retries)."""
    import boto3
    from botocore.config import Config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return boto3.client(
        "s3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )


# --- (d) a full refresh replaces the whole set -----------------------------------------------


def test_a_full_refresh_on_a_shorter_delivery_leaves_nothing_of_the_older_batch(
    backend, tmp_path: Path
) -> None:
    lake, credentials = backend
    longer = {f"2017-{month:02d}-01": month for month in range(2, 10)}
    build(lake, "long", longer, "batch-a", tmp_path / "build")
    publish(lake, "long", "batch-a", full_refresh=True)
    shorter = {f"2017-{month:02d}-01": 10 + month for month in range(2, 5)}
    build(lake, "short", shorter, "batch-b", tmp_path / "build")

    publication = publish(lake, "short", "batch-b", full_refresh=True)

    assert_readers_see(lake, tmp_path, credentials, expected(shorter, "batch-b", "short"))
    # what the run reports is what it published, read from its own pointer
    assert publication.summary() == [
        {
            "snapshot_date": snapshot,
            "rows": rows,
            "key": publication.pointer["snapshots"][snapshot]["key"],
        }
        for snapshot, rows in shorter.items()
    ]
    assert publication.pointer == read_current_set(lake)
    assert publication.pointer["raw_batch_id"] == "batch-b"
    manifest = json.loads(
        lake.read_bytes(publication.pointer["snapshots"]["2017-03-01"]["manifest_key"])
    )
    assert manifest == publication.pointer["snapshots"]["2017-03-01"]
    assert manifest["code_version"] == CODE and manifest["run_id"] == "short"


# --- (e) a monthly run replaces just its snapshot, only within one batch and code ------------


def test_a_monthly_run_replaces_just_its_snapshot(backend, tmp_path: Path) -> None:
    lake, credentials = backend
    build(lake, "refresh", OLD, "batch-a", tmp_path / "build")
    first = publish(lake, "refresh", "batch-a", full_refresh=True)
    build(lake, "rerun", {"2017-03-01": 9}, "batch-a", tmp_path / "build")
    build(lake, "later", {"2017-05-01": 2}, "batch-a", tmp_path / "build")

    rerun = publish(lake, "rerun", "batch-a", full_refresh=False)
    publish(lake, "later", "batch-a", full_refresh=False)

    assert_readers_see(
        lake,
        tmp_path,
        credentials,
        {
            "2017-02-01": (3, "batch-a", "refresh"),
            "2017-03-01": (9, "batch-a", "rerun"),
            "2017-04-01": (5, "batch-a", "refresh"),
            "2017-05-01": (2, "batch-a", "later"),
        },
    )
    current = read_current_set(lake)["snapshots"]
    # the snapshots it did not build keep their files: nothing is copied twice
    assert current["2017-02-01"] == first.pointer["snapshots"]["2017-02-01"]
    assert current["2017-03-01"]["publication_id"] == rerun.publication_id
    assert rerun.summary() == [
        {"snapshot_date": "2017-03-01", "rows": 9, "key": current["2017-03-01"]["key"]}
    ]


def test_a_monthly_run_on_another_batch_or_code_is_refused_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    lake = LocalLake(tmp_path / "lake")
    old = published_old_set(lake, tmp_path)
    build(lake, "monthly", {"2017-03-01": 9}, "batch-b", tmp_path / "build")
    pointer = lake.read_bytes(FEATURE_STORE_POINTER_KEY)
    publications = lake.list(PUBLICATIONS_PREFIX)

    with pytest.raises(PublishRefused, match=r"batch-a .*full_refresh"):
        publish(lake, "monthly", "batch-b", full_refresh=False)
    with pytest.raises(PublishRefused, match="code-2"):
        publish_snapshots(
            lake,
            run_build_prefix("monthly"),
            raw_batch_id="batch-a",
            version="code-2",
            run_id="monthly",
            full_refresh=False,
        )

    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == pointer
    assert lake.list(PUBLICATIONS_PREFIX) == publications
    assert_readers_see(lake, tmp_path, None, old)


class IngestsMeanwhile:
    """The lake, except that ingestion publishes raw batch `batch` right after the publish's
    first write: between its up-front checks and its flip."""

    def __init__(self, lake: Lake, batch: str) -> None:
        self._lake = lake
        self._batch = batch

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._lake, name)
        if name != "put_file":
            return attribute

        def put_file(*args: Any, **kwargs: Any) -> Any:
            written = attribute(*args, **kwargs)
            write_json(self._lake, POINTER_KEY, {"batch_id": self._batch})
            return written

        return put_file


def test_a_full_refresh_of_a_batch_ingestion_has_since_replaced_is_refused(
    tmp_path: Path,
) -> None:
    """A slow full refresh of delivery A must not replace the set a full refresh of the newer
    delivery B published first; and one that starts its publish before B arrives is refused
    at the flip."""
    lake = LocalLake(tmp_path / "lake")
    write_json(lake, POINTER_KEY, {"batch_id": "batch-b"})
    build(lake, "refresh-a", OLD, "batch-a", tmp_path / "a")
    build(lake, "refresh-b", NEW, "batch-b", tmp_path / "b")
    publish(lake, "refresh-b", "batch-b", full_refresh=True)
    pointer = lake.read_bytes(FEATURE_STORE_POINTER_KEY)

    with pytest.raises(PublishRefused, match=r"raw batch batch-a, .* published batch batch-b"):
        publish(lake, "refresh-a", "batch-a", full_refresh=True)
    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == pointer

    write_json(lake, POINTER_KEY, {"batch_id": "batch-a"})
    with pytest.raises(PublishRefused, match=r"since published batch batch-c"):
        publish_snapshots(
            IngestsMeanwhile(lake, "batch-c"),
            run_build_prefix("refresh-a"),
            raw_batch_id="batch-a",
            version=CODE,
            run_id="refresh-a",
            full_refresh=True,
        )
    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == pointer
    # a monthly run adds its snapshot to a set from its own batch, whichever batch is newest
    build(lake, "monthly-b", {"2017-05-01": 2}, "batch-b", tmp_path / "m")
    publish(lake, "monthly-b", "batch-b", full_refresh=False)
    assert sorted(read_current_set(lake)["snapshots"]) == [*sorted(NEW), "2017-05-01"]


def test_a_full_refresh_retried_after_its_own_flip_publishes_again_over_a_newer_ingest(
    tmp_path: Path,
) -> None:
    """The flip landed, a later step failed, ingestion published batch B meanwhile: the retry
    only replaces the set its own first try installed, so it must not be refused; another
    run's full refresh of batch A still is."""
    lake = LocalLake(tmp_path / "lake")
    write_json(lake, POINTER_KEY, {"batch_id": "batch-a"})
    build(lake, "refresh-a", OLD, "batch-a", tmp_path / "a")
    first = publish(lake, "refresh-a", "batch-a", full_refresh=True)
    write_json(lake, POINTER_KEY, {"batch_id": "batch-b"})

    retried = publish(lake, "refresh-a", "batch-a", full_refresh=True)

    assert retried.publication_id != first.publication_id
    assert via_pointer(lake) == expected(OLD, "batch-a", "refresh-a")
    build(lake, "other-a", OLD, "batch-a", tmp_path / "o")
    with pytest.raises(PublishRefused, match=r"since published batch batch-b"):
        publish(lake, "other-a", "batch-a", full_refresh=True)
    assert read_current_set(lake)["publication_id"] == retried.publication_id
    # once batch B's full refresh has replaced it, the set is no longer the run's own
    build(lake, "refresh-b", NEW, "batch-b", tmp_path / "b")
    publish(lake, "refresh-b", "batch-b", full_refresh=True)
    with pytest.raises(PublishRefused, match=r"since published batch batch-b"):
        publish(lake, "refresh-a", "batch-a", full_refresh=True)
    assert via_pointer(lake) == expected(NEW, "batch-b", "refresh-b")


def test_a_monthly_run_on_an_empty_store_publishes_its_snapshot(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    build(lake, "monthly", {"2017-03-01": 9}, "batch-a", tmp_path / "build")

    publish(lake, "monthly", "batch-a", full_refresh=False)

    assert_readers_see(lake, tmp_path, None, {"2017-03-01": (9, "batch-a", "monthly")})


def test_two_monthly_publishers_at_once_both_land(backend, tmp_path: Path) -> None:
    """Publisher A reads the pointer; B publishes in between; A's conditional write fails, it
    re-reads and writes a set with both snapshots."""
    lake, credentials = backend
    build(lake, "a", {"2017-02-01": 1}, "batch-a", tmp_path / "build")
    build(lake, "b", {"2017-03-01": 2}, "batch-a", tmp_path / "build")
    raced = []

    class Racing(FailingLake):
        def replace_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
            if not raced:
                raced.append(publish(lake, "b", "batch-a", full_refresh=False))
            return lake.replace_if_unchanged(key, data, version)

    publish(Racing(lake, fail_at=-1), "a", "batch-a", full_refresh=False)

    assert raced
    assert_readers_see(
        lake,
        tmp_path,
        credentials,
        {"2017-02-01": (1, "batch-a", "a"), "2017-03-01": (2, "batch-a", "b")},
    )


# --- (f) garbage collection ------------------------------------------------------------------


def test_gc_removes_old_unreferenced_publications_and_superseded_run_builds(
    backend, tmp_path: Path
) -> None:
    lake, credentials = backend
    ids = []
    for run in ("r1", "r2", "r3"):
        build(lake, run, OLD, "batch-a", tmp_path / "build")
        ids.append(publish(lake, run, "batch-a", full_refresh=True).publication_id)
    # a monthly run on top of r3: the current set references r3's publication and its own
    build(lake, "m", {"2017-03-01": 1}, "batch-a", tmp_path / "build")
    ids.append(publish(lake, "m", "batch-a", full_refresh=False).publication_id)
    build(lake, "failed", {"2017-04-01": 1}, "batch-a", tmp_path / "build")
    lake.write_bytes("feature_store/snapshot_date=2016-01-01/data_0.parquet", b"old layout")
    write_json(lake, "feature_store/_manifests/snapshot_date=2016-01-01.json", {})
    write_json(
        lake, LATEST_BUILD_KEY, {"build_prefixes": ["warehouse/batches/x", "warehouse/runs/r3"]}
    )
    superseded = replace_latest_build(lake, ["warehouse/batches/x", run_build_prefix("m")])
    current = via_pointer(lake, credentials)

    # young: nothing but the superseded run build and the old layout goes
    removed = collect_garbage(lake, superseded_builds=superseded, settings=RetentionSettings(1))
    assert removed["publications"] == []
    assert removed["run_builds"] == ["warehouse/runs/r3"]
    assert removed["legacy"] == [
        "feature_store/_manifests/snapshot_date=2016-01-01.json",
        "feature_store/snapshot_date=2016-01-01/data_0.parquet",
    ]
    # past retention: unreferenced ones go unless among the newest kept
    later = datetime.now(UTC) + timedelta(days=8)
    removed = collect_garbage(lake, settings=RetentionSettings(publications_kept=1), now=later)
    assert removed["publications"] == ids[:2]
    assert removed["run_builds"] == [
        "warehouse/runs/failed",
        "warehouse/runs/r1",
        "warehouse/runs/r2",
    ]
    remaining = {key.split("/")[2] for key in lake.list(PUBLICATIONS_PREFIX)}
    assert remaining == set(ids[2:])
    assert lake.list("warehouse/runs") and all(
        key.startswith("warehouse/runs/m/") for key in lake.list("warehouse/runs")
    )
    assert_readers_see(lake, tmp_path, credentials, current)


def test_gc_keeps_a_publication_being_written(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    published_old_set(lake, tmp_path)
    build(lake, "second", OLD, "batch-a", tmp_path / "build")
    with pytest.raises(OSError):
        publish(FailingLake(lake, 3, OSError("killed")), "second", "batch-a", full_refresh=True)
    partial = {key.split("/")[2] for key in lake.list(PUBLICATIONS_PREFIX)}

    collect_garbage(lake, settings=RetentionSettings(publications_kept=0))

    assert {key.split("/")[2] for key in lake.list(PUBLICATIONS_PREFIX)} == partial
    later = datetime.now(UTC) + timedelta(days=2)
    collect_garbage(lake, settings=RetentionSettings(publications_kept=0), now=later)
    assert {key.split("/")[2] for key in lake.list(PUBLICATIONS_PREFIX)} == {
        read_current_set(lake)["publication_id"]
    }


# --- paths with quotes -----------------------------------------------------------------------


def test_a_lake_path_with_a_quote_publishes_and_reads(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "it's a lake")
    build(lake, "refresh", OLD, "batch-a", tmp_path / "build")

    publish(lake, "refresh", "batch-a", full_refresh=True)

    assert_readers_see(lake, tmp_path, None, expected(OLD, "batch-a", "refresh"))


def test_retention_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLIST_PUBLICATIONS_KEPT", "5")
    monkeypatch.setenv("OLIST_PUBLICATION_RETENTION_HOURS", "1.5")
    monkeypatch.setenv("OLIST_RUN_BUILD_RETENTION_DAYS", "0")

    assert RetentionSettings.from_env() == RetentionSettings(5, timedelta(hours=1.5), timedelta(0))
    monkeypatch.setenv("OLIST_PUBLICATIONS_KEPT", "three")
    with pytest.raises(ValueError, match="OLIST_PUBLICATIONS_KEPT='three'"):
        RetentionSettings.from_env()

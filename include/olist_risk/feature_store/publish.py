"""Publish: a run's audited snapshots become the current feature store all at once, or not at all.

    feature_store/publications/<publication_id>/snapshot_date=<S>/data_0.parquet
    feature_store/publications/<publication_id>/_manifests/snapshot_date=<S>.json
    feature_store/publications/<publication_id>/_stats/snapshot_date=<S>.json
    feature_store/_current.json        the pointer: the complete current set of snapshots

A publish takes three steps (`publish_snapshots`):

1. **Write a new publication.** Each built partition is copied under a prefix no other attempt
   uses (a fresh `publication_id` per attempt, never written again), with a manifest per
   snapshot: rows, bytes, sha256, raw batch, code version, run id. The feature statistics
   the gold audit wrote into the run's build (`health.py`) are copied beside each snapshot and
   named by its manifest (`stats_key`); statistics counting other rows than the file fail the
   publish here (the build changed after the audit).
2. **Verify it.** Each file is read back from the lake and its size and sha256 compared with
   the built file's; a short or damaged copy fails the publish here.
3. **Flip one pointer.** `feature_store/_current.json` lists every current snapshot with the key
   of its file (which may live in an older publication) and its manifest. It is replaced in one
   compare-and-swap write (a conditional PUT on S3, a lock and `os.replace` locally).

Readers (the catalog's `feature_store` view, `read_current_set`, a user following the README)
read only the files the pointer lists. Until step 3 succeeds the pointer names the previous set,
whose files nothing rewrites; so a publish killed at any point (SIGKILL), a full disk or an S3
outage leaves readers on the complete previous set, plus an unreferenced partial publication
that garbage collection removes later. A retry writes a new publication and flips the pointer.

What the new set is:

- **Full refresh**: exactly the run's snapshots. The previous set is replaced entirely, so
  snapshots the new batch no longer covers leave the current set. Only from the raw batch
  ingestion published last (checked again at the flip): a full refresh of an older delivery
  that finishes late is refused rather than replace a newer batch's set. A retry of a full
  refresh whose own flip succeeded (a later step failed) may flip again over the set it
  installed, whichever batch is newest: that set is its own, so nothing goes back.
- **One snapshot** (a monthly run, a backfill, a re-run): the current set with that snapshot
  replaced or added, if the current set was published from the same raw batch and code version
  as the run. Otherwise the run is refused (`PublishRefused`) and publishes nothing: adding it
  would give a store whose snapshots come from two deliveries or two versions of the code, so
  the message asks for a full refresh (`{"full_refresh": true}`), which republishes every
  snapshot from the current batch. On an empty store the set is the run's snapshot.

Two publishers at once (two monthly runs of a backfill, or one next to a full refresh) each
read the pointer, compute their set and write it only if the pointer is still the version they
read; the loser re-reads and recomputes, so no snapshot is lost and each pointer written is a
set its writer checked. (On S3 this relies on conditional writes, which AWS S3 supports since
2024; an S3-compatible store that ignores `If-Match` would let the last writer win.)

Garbage collection (`collect_garbage`, run by the publish task after the flip; a failure there
is logged, the publish stands):

- a publication is removed when the current pointer references none of its files, it is not
  among the `OLIST_PUBLICATIONS_KEPT` newest (default 3) and it is older than
  `OLIST_PUBLICATION_RETENTION_HOURS` (default 24, from the time in its id). The age keeps a
  publication that another run is still writing, and the previous sets that a catalog not yet
  refreshed, or a reader holding an older pointer, still reads;
- files of the layout before publications (`feature_store/snapshot_date=*`,
  `feature_store/_manifests/`) are removed once a pointer exists; nothing reads them;
- per-run build folders (`warehouse/runs/<run_id>/`): the one `warehouse/_latest.json` named
  before this publish (published and now superseded) is removed at once (a catalog refresh
  still reading it starts over on the new one, catalog.py); the one it names now stays, since
  the catalog's `gold` views read it; any other run folder whose newest file is
  older than `OLIST_RUN_BUILD_RETENTION_DAYS` (default 7) is removed (failed or abandoned runs;
  a failed run retried later than that rebuilds from scratch). So the disk holds one published
  run build plus the runs of the last days, not one per run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.olist_risk.config import env_number
from include.olist_risk.ingestion.batch import current_batch_id
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import (
    FEATURE_STORE_POINTER_KEY,
    FEATURE_STORE_PREFIX,
    LATEST_BUILD_KEY,
    PUBLICATIONS_PREFIX,
    RUN_BUILDS_PREFIX,
    publication_prefix,
    run_feature_stats_key,
    snapshot_manifest_key,
    snapshot_partition_key,
    snapshot_stats_key,
)
from include.olist_risk.lake.storage import Lake, read_json, sha256_file, write_json

log = logging.getLogger(__name__)

MODEL_DIR = "gold/fct_customer_return_risk_features"
# Pointer writes that lost a race are retried this many times (each re-reads the pointer).
FLIP_ATTEMPTS = 20
_ID_TIME = "%Y%m%dT%H%M%S%fZ"


class PublishRefused(RuntimeError):
    """The run's snapshots cannot join the current set; nothing was published."""


@dataclass(frozen=True)
class Publication:
    """What one publish did: its id, the snapshots it wrote, and the pointer it installed."""

    publication_id: str
    snapshots: list[str]
    pointer: dict[str, Any]

    def summary(self) -> list[dict[str, Any]]:
        """The run's own snapshots as its pointer lists them (not a listing of the lake)."""
        return [
            {
                "snapshot_date": snapshot,
                "rows": self.pointer["snapshots"][snapshot]["rows"],
                "key": self.pointer["snapshots"][snapshot]["key"],
            }
            for snapshot in self.snapshots
        ]


@dataclass(frozen=True)
class RetentionSettings:
    publications_kept: int = 3
    publication_retention: timedelta = timedelta(hours=24)
    run_build_retention: timedelta = timedelta(days=7)

    @classmethod
    def from_env(cls) -> RetentionSettings:
        return cls(
            publications_kept=int(env_number("OLIST_PUBLICATIONS_KEPT", 3)),
            publication_retention=timedelta(
                hours=env_number("OLIST_PUBLICATION_RETENTION_HOURS", 24)
            ),
            run_build_retention=timedelta(days=env_number("OLIST_RUN_BUILD_RETENTION_DAYS", 7)),
        )


def new_publication_id(now: datetime | None = None) -> str:
    """Sortable by time (garbage collection reads the age from it) and unique per attempt."""
    stamp = (now or datetime.now(UTC)).strftime(_ID_TIME)
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def publication_time(publication_id: str) -> datetime | None:
    try:
        return datetime.strptime(publication_id.split("-")[0], _ID_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def built_partitions(lake: Lake, build_prefix: str) -> dict[str, str]:
    """snapshot date -> key of its Parquet file in the run's build."""
    partitions = {}
    for key in lake.list(f"{build_prefix}/{MODEL_DIR}"):
        if key.endswith(".parquet") and "snapshot_date=" in key:
            partitions[key.split("snapshot_date=")[1].split("/")[0]] = key
    return dict(sorted(partitions.items()))


def built_stats(lake: Lake, build_prefix: str, snapshots: Sequence[str]) -> dict[str, str]:
    """snapshot -> key of the statistics the gold audit wrote for it, where it did."""
    keys = {run_feature_stats_key(build_prefix, snapshot): snapshot for snapshot in snapshots}
    return {keys[key]: key for key in lake.list(f"{build_prefix}/_feature_stats") if key in keys}


def _copy_stats(lake: Lake, built: str, key: str, rows: int) -> None:
    data = lake.read_bytes(built)
    if json.loads(data)["rows"] != rows:
        raise RuntimeError(
            f"the feature statistics at {lake.uri(built)} count other rows than the built file "
            f"({rows}): the build changed after the gold audit; nothing was published, clear "
            "audit_gold and publish to audit it again"
        )
    lake.write_bytes(key, data)


def _write_publication(
    lake: Lake,
    partitions: dict[str, str],
    publication_id: str,
    provenance: dict[str, str],
    credentials: S3Credentials | None,
    stats: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Steps 1 and 2: copy and verify every partition (and its statistics, when `stats` names
    them); snapshot -> its manifest."""
    entries: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, connect(credentials=credentials) as con:
        for snapshot, built in partitions.items():
            local = Path(tmp) / f"{snapshot}.parquet"
            lake.get_file(built, local)
            rows = con.execute("select count(*) from read_parquet(?)", [str(local)]).fetchone()[0]
            key = snapshot_partition_key(publication_id, snapshot)
            lake.put_file(local, key)
            entry = {
                "snapshot_date": snapshot,
                "key": key,
                "manifest_key": snapshot_manifest_key(publication_id, snapshot),
                "rows": rows,
                "bytes": local.stat().st_size,
                "sha256": sha256_file(local),
                **provenance,
                "publication_id": publication_id,
                "built_from": lake.uri(built),
            }
            if snapshot in stats:
                entry["stats_key"] = snapshot_stats_key(publication_id, snapshot)
                _copy_stats(lake, stats[snapshot], entry["stats_key"], rows)
            write_json(lake, entry["manifest_key"], entry)
            entries[snapshot] = entry
    for snapshot, entry in entries.items():
        copied = lake.read_bytes(entry["key"])
        if len(copied) != entry["bytes"] or hashlib.sha256(copied).hexdigest() != entry["sha256"]:
            raise RuntimeError(
                f"published copy of snapshot {snapshot} at {lake.uri(entry['key'])} does not "
                f"match the built file ({len(copied)} bytes read back, {entry['bytes']} "
                "written): the current set is unchanged, retry the task"
            )
    return entries


def _check_joinable(
    current: dict[str, Any] | None, *, full_refresh: bool, raw_batch_id: str, version: str
) -> None:
    """A single snapshot joins only a set from the same raw batch and code (module docstring)."""
    if full_refresh or not current or not current.get("snapshots"):
        return
    if (current.get("raw_batch_id"), current.get("code_version")) != (raw_batch_id, version):
        raise PublishRefused(
            f"the published feature store was built from raw batch {current.get('raw_batch_id')} "
            f"with code {current.get('code_version')}; this run read batch {raw_batch_id} with "
            f"code {version}. Publishing its snapshot alone would mix two deliveries or two "
            "versions of the code, so nothing was published: trigger a full refresh "
            '({"full_refresh": true}) to republish every snapshot from the current batch.'
        )


def _check_latest_batch(
    lake: Lake,
    current_set: dict[str, Any] | None,
    *,
    full_refresh: bool,
    raw_batch_id: str,
    run_id: str,
) -> None:
    """A full refresh replaces the whole set: only from the current raw batch (docstring), or
    again over the set this very run installed (a retry after its flip: nothing goes back)."""
    if not full_refresh:
        return
    own = current_set or {}
    if (own.get("run_id"), own.get("raw_batch_id"), own.get("full_refresh")) == (
        run_id,
        raw_batch_id,
        True,
    ):
        return
    current = current_batch_id(lake)
    if current is not None and current != raw_batch_id:
        raise PublishRefused(
            f"this full refresh read raw batch {raw_batch_id}, but ingestion has since published "
            f"batch {current}: replacing the whole feature store with the older delivery could "
            "undo a newer one, so nothing was published. Trigger a full refresh "
            '({"full_refresh": true}) to build the current batch.'
        )


def _next_set(
    current: dict[str, Any] | None,
    entries: dict[str, dict[str, Any]],
    *,
    full_refresh: bool,
    raw_batch_id: str,
    version: str,
) -> dict[str, dict[str, Any]]:
    _check_joinable(current, full_refresh=full_refresh, raw_batch_id=raw_batch_id, version=version)
    if full_refresh or not current:
        return dict(sorted(entries.items()))
    return dict(sorted({**current.get("snapshots", {}), **entries}.items()))


def publish_snapshots(
    lake: Lake,
    build_prefix: str,
    *,
    raw_batch_id: str,
    version: str,
    run_id: str,
    full_refresh: bool,
    credentials: S3Credentials | None = None,
) -> Publication:
    """Write, verify and flip (see the module docstring); returns what this publish installed."""
    partitions = built_partitions(lake, build_prefix)
    if not partitions:
        raise RuntimeError(f"nothing to publish: no partitions under {lake.uri(build_prefix)}")
    # Refuse before copying anything when the answer is already known; checked again at the flip.
    current_set = read_current_set(lake)
    _check_latest_batch(
        lake, current_set, full_refresh=full_refresh, raw_batch_id=raw_batch_id, run_id=run_id
    )
    _check_joinable(
        current_set,
        full_refresh=full_refresh,
        raw_batch_id=raw_batch_id,
        version=version,
    )
    publication_id = new_publication_id()
    published_at = datetime.now(UTC).isoformat(timespec="seconds")
    provenance = {
        "raw_batch_id": raw_batch_id,
        "code_version": version,
        "run_id": run_id,
        "published_at": published_at,
    }
    stats = built_stats(lake, build_prefix, list(partitions))
    entries = _write_publication(lake, partitions, publication_id, provenance, credentials, stats)
    for attempt in range(FLIP_ATTEMPTS):
        data, token = lake.read_versioned(FEATURE_STORE_POINTER_KEY)
        current = json.loads(data) if data is not None else None
        _check_latest_batch(
            lake, current, full_refresh=full_refresh, raw_batch_id=raw_batch_id, run_id=run_id
        )
        snapshots = _next_set(
            current,
            entries,
            full_refresh=full_refresh,
            raw_batch_id=raw_batch_id,
            version=version,
        )
        pointer = {
            **provenance,
            "publication_id": publication_id,
            "full_refresh": full_refresh,
            "previous_publication_id": (current or {}).get("publication_id"),
            "snapshots": snapshots,
        }
        if lake.replace_if_unchanged(
            FEATURE_STORE_POINTER_KEY, json.dumps(pointer, indent=2, sort_keys=True).encode(), token
        ):
            return Publication(publication_id, sorted(entries), pointer)
        log.info("the feature-store pointer changed under this publish; re-reading it")
        time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise RuntimeError(
        f"could not replace {lake.uri(FEATURE_STORE_POINTER_KEY)} after {FLIP_ATTEMPTS} attempts: "
        "other publishers kept changing it; the current set is unchanged, retry the task"
    )


def replace_latest_build(lake: Lake, build_prefixes: Sequence[str]) -> list[str]:
    """Name the builds the catalog's layer views read; returns the ones named before."""
    before = read_json(lake, LATEST_BUILD_KEY) if lake.exists(LATEST_BUILD_KEY) else {}
    write_json(lake, LATEST_BUILD_KEY, {"build_prefixes": list(build_prefixes)})
    return list(before.get("build_prefixes", []))


def _referenced_publications(pointer: dict[str, Any] | None) -> set[str]:
    if not pointer:
        return set()
    found = {pointer.get("publication_id")}
    for entry in pointer.get("snapshots", {}).values():
        rest = entry["key"][len(PUBLICATIONS_PREFIX) + 1 :]
        found.add(rest.split("/")[0])
    return {publication for publication in found if publication}


def collect_garbage(
    lake: Lake,
    *,
    superseded_builds: Sequence[str] = (),
    settings: RetentionSettings | None = None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Remove what no reader needs any more (module docstring); returns what was removed."""
    settings = settings or RetentionSettings()
    now = now or datetime.now(UTC)
    removed: dict[str, list[str]] = {"publications": [], "legacy": [], "run_builds": []}
    pointer = read_current_set(lake)
    if pointer is not None:
        referenced = _referenced_publications(pointer)
        publications = sorted(
            {
                key[len(PUBLICATIONS_PREFIX) + 1 :].split("/")[0]
                for key in lake.list(PUBLICATIONS_PREFIX)
            }
        )
        newest = (
            set(publications[-settings.publications_kept :])
            if settings.publications_kept
            else set()
        )
        for publication in publications:
            written = publication_time(publication)
            if (
                publication in referenced
                or publication in newest
                or written is None
                or now - written <= settings.publication_retention
            ):
                continue
            lake.delete_prefix(publication_prefix(publication))
            removed["publications"].append(publication)
        for key in lake.list(FEATURE_STORE_PREFIX):
            if key.startswith(
                (f"{FEATURE_STORE_PREFIX}/snapshot_date=", f"{FEATURE_STORE_PREFIX}/_manifests/")
            ):
                lake.delete_prefix(key)
                removed["legacy"].append(key)
    latest = read_json(lake, LATEST_BUILD_KEY) if lake.exists(LATEST_BUILD_KEY) else {}
    keep = set(latest.get("build_prefixes", []))
    runs: dict[str, float] = {}
    for key, modified in lake.modified_times(RUN_BUILDS_PREFIX).items():
        prefix = "/".join(key.split("/")[:3])
        runs[prefix] = max(runs.get(prefix, 0.0), modified)
    for prefix, modified in sorted(runs.items()):
        if prefix in keep:
            continue
        expired = now - datetime.fromtimestamp(modified, UTC) > settings.run_build_retention
        if prefix in superseded_builds or expired:
            lake.delete_prefix(prefix)
            removed["run_builds"].append(prefix)
    return removed

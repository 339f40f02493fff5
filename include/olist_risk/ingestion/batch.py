"""Discover a batch in the landing zone, stage each table into the lake, publish it whole.

Where each part goes is `lake.layout`'s `raw/` and `quarantine/` keys: every table as all-text
Parquet under its batch's own prefix, a manifest per batch, and one pointer readers follow.
The batch id is derived from the files' checksums, so landing the same files again reuses
the same keys (no duplicates) and publishing it again changes nothing. Staging writes only
under the batch's own prefix; nothing is visible to readers until `publish_batch` replaces
the pointer, and it does so only when every table of the batch was staged and the batch
gates (`gates.py`: row counts against the current batch, references between the tables)
pass; a held batch leaves its reason in `held.json` and the pointer where it was.

Discovery takes exactly one source per table from the landing zone's top folder (subfolders
only when configured), refuses ambiguous deliveries, symlinks and special files, and ignores
files that are not Olist tables.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from include.olist_risk.ingestion.gates import GateLimits, check_batch
from include.olist_risk.ingestion.validate import IngestionError, validate_to_parquet
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import (
    POINTER_KEY,
    batch_held_key,
    batch_manifest_key,
    quarantine_key,
    staged_table_key,
    table_key,
)
from include.olist_risk.lake.storage import Lake, read_json, sha256_file, write_json
from include.olist_risk.olist.tables import TABLES, TABLES_BY_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One table's file in the landing zone; `member` is its name inside a zip, if any."""

    table: str
    key: str
    sha256: str
    size: int
    member: str | None = None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    files: tuple[SourceFile, ...]

    def to_dict(self) -> dict:
        return {"batch_id": self.batch_id, "files": [asdict(f) for f in self.files]}

    @classmethod
    def from_dict(cls, data: dict) -> Batch:
        return cls(data["batch_id"], tuple(SourceFile(**f) for f in data["files"]))

    def file(self, table: str) -> SourceFile:
        return next(f for f in self.files if f.table == table)


class BatchError(Exception):
    """The landing zone does not hold one complete batch."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_members(lake: Lake, local: Path, source: SourceFile) -> list[str]:
    try:
        with zipfile.ZipFile(local) as archive:
            return archive.namelist()
    except zipfile.BadZipFile as error:
        failure = IngestionError(local.name, "corrupt_archive", f"not a readable zip: {error}")
        where = quarantine(lake, source.sha256[:16], local, source, failure)
        failure.detail += f" (quarantined at {lake.uri(where)})"
        raise failure from None


def _unsafe_entries(entries: list[tuple[str, str]]) -> list[str]:
    return [f"{key} ({kind})" for key, kind in entries if kind in {"symlink", "special"}]


def _describe(source: SourceFile) -> str:
    return f"{source.key} (member {source.member})" if source.member else source.key


def discover_batch(
    landing: Lake, lake: Lake, prefix: str = "", *, recursive: bool = False
) -> Batch:
    """Find the nine Olist files (plain, gzip'd or in a zip) under `prefix` of the landing zone.

    Exactly one source per table: two candidates for one table (a `.csv` and a `.csv.gz`, a file
    and a zip member, two zips or two members of one, a copy in a subfolder) refuse the batch,
    naming every candidate, since the files cannot tell which one is meant. Subfolders are
    searched only when `recursive` (`OLIST_LANDING_RECURSIVE`). A symlink or a special file
    (FIFO, device, socket) refuses the batch before any file is read, so nothing outside the
    landing zone is read or copied. Other files (`README.txt`, `ground_truth_labels.csv`) are
    ignored. A zip that cannot be opened is quarantined in `lake` here, since no batch can be
    formed.
    """
    where = landing.uri(prefix)
    entries = landing.entries(prefix, recursive)
    if unsafe := _unsafe_entries(entries):
        raise BatchError(
            f"landing zone {where} holds entries that are not regular files: {unsafe}; "
            "symlinks and special files are refused (a link could lead outside the landing "
            "zone): replace each by the file itself. Nothing was read."
        )
    candidates: dict[str, list[SourceFile]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, kind in entries:
            name = Path(key).name
            if kind == "folder":
                log.info("%s: subfolder not searched (OLIST_LANDING_RECURSIVE is off)", key)
                continue
            table = TABLES_BY_FILE.get(name.removesuffix(".gz"))
            if not table and not name.endswith(".zip"):
                if name.endswith((".csv", ".csv.gz")):
                    log.warning("%s: not one of the nine Olist files; ignored", key)
                continue
            local = Path(tmp) / name
            landing.get_file(key, local)
            sha, size = sha256_file(local), local.stat().st_size
            if table:
                candidates.setdefault(table.name, []).append(SourceFile(table.name, key, sha, size))
                continue
            archive = SourceFile("", key, sha, size)
            # Members are only ever read into memory, so a `../` or absolute member name
            # cannot write anywhere; only its file name says which table it holds.
            for member in _zip_members(lake, local, archive):
                if table := TABLES_BY_FILE.get(Path(member).name.removesuffix(".gz")):
                    candidates.setdefault(table.name, []).append(
                        SourceFile(table.name, key, sha, size, member)
                    )
    problems = [
        f"{name} has {len(found)} candidates: {[_describe(f) for f in found]}"
        for name, found in sorted(candidates.items())
        if len(found) > 1
    ]
    missing = sorted(t.file_name for t in TABLES.values() if t.name not in candidates)
    if missing:
        problems.append(f"missing: {missing}")
    if problems:
        raise BatchError(
            f"landing zone {where} has no complete, unambiguous Olist batch (exactly one file "
            f"per table): {'; '.join(problems)}"
        )
    files = tuple(candidates[name][0] for name in sorted(candidates))
    batch_id = _sha256("\n".join(f"{f.table}:{f.sha256}:{f.member}" for f in files).encode())[:16]
    return Batch(batch_id, files)


def _materialise_csv(local: Path, source: SourceFile, work: Path) -> Path:
    """Turn what landed (csv, csv.gz, zip member) into a plain CSV; a damaged archive fails here."""
    file_name = TABLES[source.table].file_name
    target = work / file_name
    try:
        if source.member is not None:
            with zipfile.ZipFile(local) as archive, archive.open(source.member) as member:
                if source.member.endswith(".gz"):
                    member = gzip.GzipFile(fileobj=member)
                with target.open("wb") as out:
                    shutil.copyfileobj(member, out)
        elif source.key.endswith(".gz"):
            with gzip.open(local) as opened, target.open("wb") as out:
                shutil.copyfileobj(opened, out)
        else:
            return local
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise IngestionError(
            Path(source.key).name, "corrupt_archive", f"cannot decompress: {error}"
        ) from None
    return target


def quarantine(
    lake: Lake, batch_id: str, local: Path, source: SourceFile, error: IngestionError
) -> str:
    """Keep the rejected file as it arrived, beside a machine-readable reason."""
    base = quarantine_key(batch_id, Path(source.key).name)
    lake.put_file(local, base)
    reason = {
        **error.as_dict(),
        "batch_id": batch_id,
        "table": source.table,
        "source_key": source.key,
        "source_sha256": source.sha256,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(lake, f"{base}.reason.json", reason)
    return base


def stage_table(landing: Lake, lake: Lake, batch: Batch, table_name: str) -> dict:
    """Validate one table of the batch and write its Parquet under the batch's prefix.

    Raises IngestionError after quarantining the file when it is bad.
    """
    source = batch.file(table_name)
    table = TABLES[table_name]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        local = work / "source" / Path(source.key).name
        landing.get_file(source.key, local)
        if sha256_file(local) != source.sha256:
            raise BatchError(
                f"{source.key} changed in the landing zone after batch {batch.batch_id} was "
                "discovered; re-run the ingestion to pick up the new batch"
            )
        try:
            csv_path = _materialise_csv(local, source, work)
            parquet = work / f"{table_name}.parquet"
            result = validate_to_parquet(csv_path, table, parquet)
        except IngestionError as error:
            where = quarantine(lake, batch.batch_id, local, source, error)
            raise replace(
                error, detail=f"{error.detail} (quarantined at {lake.uri(where)})"
            ) from None
        part = {
            "table": table_name,
            "file_name": table.file_name,
            "source_key": source.key,
            "source_sha256": source.sha256,
            "csv_sha256": sha256_file(csv_path),
            "csv_bytes": csv_path.stat().st_size,
            "rows": result.rows,
            "ignored_rows": result.ignored,
            "parquet_key": table_key(table_name, batch.batch_id),
        }
        lake.put_file(parquet, part["parquet_key"])
    write_json(lake, staged_table_key(batch.batch_id, table_name), part)
    return part


def current_batch_id(lake: Lake) -> str | None:
    return read_json(lake, POINTER_KEY)["batch_id"] if lake.exists(POINTER_KEY) else None


class BatchHeld(BatchError):
    """The batch gates hold the batch back; `reason` is what `held.json` in the lake says."""

    def __init__(self, message: str, reason: dict) -> None:
        super().__init__(message)
        self.reason = reason


def publish_batch(
    lake: Lake,
    batch: Batch,
    limits: GateLimits | None = None,
    credentials: S3Credentials | None = None,
) -> dict:
    """Run the batch gates, write the manifest, then switch the pointer: all tables, or none.

    A batch the gates hold (`gates.py`) raises BatchHeld after writing why to `held.json`
    under its own prefix: the pointer and everything published stay as they were.
    `credentials` let DuckDB read the staged Parquet on S3.
    """
    limits = limits or GateLimits()
    parts = {}
    for name in TABLES:
        key = staged_table_key(batch.batch_id, name)
        if not lake.exists(key):
            raise BatchError(f"batch {batch.batch_id}: table {name} was not staged; not publishing")
        parts[name] = read_json(lake, key)
        if parts[name]["source_sha256"] != batch.file(name).sha256:
            raise BatchError(f"batch {batch.batch_id}: staged {name} is from another source file")
    current = current_batch_id(lake)
    if current == batch.batch_id:
        return read_json(lake, batch_manifest_key(batch.batch_id))
    previous = read_json(lake, batch_manifest_key(current)) if current else None
    rows = {name: part["rows"] for name, part in parts.items()}
    gates, problems = check_batch(lake, batch.batch_id, rows, previous, limits, credentials)
    if problems:
        _hold(lake, batch.batch_id, current, gates, problems)
    manifest = {"batch_id": batch.batch_id, "tables": parts, "gates": gates}
    write_json(lake, batch_manifest_key(batch.batch_id), manifest)
    write_json(
        lake,
        POINTER_KEY,
        {
            "batch_id": batch.batch_id,
            "manifest": batch_manifest_key(batch.batch_id),
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return manifest


def _hold(lake: Lake, batch_id: str, current: str | None, gates: dict, problems: list) -> None:
    key = batch_held_key(batch_id)
    held_by = {p["gate"] for p in problems}
    override = ""
    if "row_count" in held_by:
        # Only a shrink can be intended (a smaller export); orphans are a broken delivery.
        after = "" if held_by == {"row_count"} else " once the other problems are fixed"
        override = (
            " If the smaller delivery is intended, trigger olist_ingestion with "
            f"accept_shrink=true{after}."
        )
    message = (
        f"batch {batch_id} held, not published (the current batch stays {current}): "
        + "; ".join(p["message"] for p in problems)
        + f".{override} Reason: {lake.uri(key)}"
    )
    reason = {
        "batch_id": batch_id,
        "current_batch_id": current,
        "held_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "message": message,
        "problems": problems,
        "gates": gates,
    }
    write_json(lake, key, reason)
    raise BatchHeld(message, reason)


def ingest_folder(
    landing: Lake,
    lake: Lake,
    *,
    recursive: bool = False,
    limits: GateLimits | None = None,
    credentials: S3Credentials | None = None,
) -> str:
    """Discover, stage every table and publish in one call; returns the published batch id.

    The DAG runs these steps as separate tasks; this is the same path for scripts and tests.
    """
    batch = discover_batch(landing, lake, recursive=recursive)
    for name in TABLES:
        stage_table(landing, lake, batch, name)
    return publish_batch(lake, batch, limits, credentials)["batch_id"]

"""Build once per raw batch and code: what every run on that batch reuses.

Bronze, silver and gold's snapshot-independent models depend only on the raw batch and the
code that builds them, so the first run on a batch builds them and every later run on the
same batch and code reads that build: a monthly run then builds one gold partition.

A run builds them under a prefix of its own (`layout.batch_build_prefix`); when its last
layer succeeds, a marker in that prefix makes it complete and the batch's pointer names it
for later runs. A complete build is never written again: every task checks the marker of
the prefix it was given (not the pointer, which a later run may move) and only reads a
complete one, whether it came from another run or from a retry or cleared run of its own.
So no model's output changes under a reader. Two runs that start on a new batch at once both
build, each reading only its own prefix; the later one to finish owns the pointer. The lake
holds markers and pointer, so this works across MWAA's separate workers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from include.olist_risk.lake.layout import (
    batch_build_complete_key,
    batch_build_pointer_key,
    batch_build_prefix,
)
from include.olist_risk.lake.storage import Lake, read_json, write_json


def complete_build(lake: Lake, batch_id: str, code_version: str) -> dict | None:
    """The pointer of the complete build of this batch and code, if there is one."""
    key = batch_build_pointer_key(batch_id, code_version)
    return read_json(lake, key) if lake.exists(key) else None


def choose_batch_build(
    lake: Lake, batch_id: str, code_version: str, run_id: str
) -> tuple[str, bool]:
    """(prefix, reused): the complete build to reuse, or this run's own prefix to build into."""
    complete = complete_build(lake, batch_id, code_version)
    if complete is not None:
        return complete["prefix"], True
    return batch_build_prefix(batch_id, code_version, run_id), False


def completion(lake: Lake, prefix: str) -> dict | None:
    """The completion marker of the build under `prefix`: once there, it never changes."""
    key = batch_build_complete_key(prefix)
    return read_json(lake, key) if lake.exists(key) else None


def mark_complete(lake: Lake, batch_id: str, code_version: str, prefix: str, run_id: str) -> None:
    marker = {
        "prefix": prefix,
        "raw_batch_id": batch_id,
        "code_version": code_version,
        "built_by_run": run_id,
        "completed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(lake, batch_build_complete_key(prefix), marker)
    write_json(lake, batch_build_pointer_key(batch_id, code_version), marker)

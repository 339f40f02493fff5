"""Cluster policy for the e2e Airflow: every task starts like on a fresh MWAA worker.

Each task instance gets a new, empty working directory, temp directory, data directory and
DuckDB catalog path, so a task that relied on a local file written by an earlier task
(rather than on the lake or XCom) would fail here. Each isolation is logged to
`<root>/isolation.log`, so a test can check the policy really ran.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

ROOT_ENV = "OLIST_E2E_ISOLATION_ROOT"


def _isolate(context: Any) -> None:
    ti = context["ti"]
    root = Path(os.environ[ROOT_ENV])
    work = Path(tempfile.mkdtemp(prefix=f"{ti.task_id}.{ti.map_index}.", dir=root))
    assert not any(work.iterdir())
    os.chdir(work)
    tempfile.tempdir = str(work)
    os.environ["TMPDIR"] = str(work)
    os.environ["OLIST_DATA_DIR"] = str(work / "data")
    os.environ["OLIST_CATALOG_PATH"] = str(work / "data" / "olist.duckdb")
    with (root / "isolation.log").open("a") as log:
        log.write(f"{ti.dag_id}\t{ti.run_id}\t{ti.task_id}\t{ti.map_index}\t{work}\n")


def _chained(previous: Any) -> Any:
    def hook(context: Any) -> None:
        _isolate(context)
        if previous is not None:
            previous(context)

    return hook


def task_policy(task: Any) -> None:
    # A mapped task becomes a real operator per map index, built from its partial kwargs.
    if hasattr(task, "partial_kwargs"):
        task.partial_kwargs["pre_execute"] = _chained(task.partial_kwargs.get("pre_execute"))
    else:
        task._pre_execute_hook = _chained(task._pre_execute_hook)

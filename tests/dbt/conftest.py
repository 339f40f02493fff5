"""dbt builds on small datasets, once per test run (see helpers.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from include.olist_risk.transform.layer_run import LAYERS
from tests.dbt.helpers import GENERATED_SCALE, Lake, make_lake, spill_root
from tests.dbt.synthetic import write_synthetic


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Lake]
) -> Lake:
    """`build(root)` once per test run, however many xdist workers ask for it.

    Each worker has its own session, so a session fixture alone would build once per worker
    (a full dbt build each); the workers share the base temp folder's parent and a lock.
    Tests only read the result: one that writes copies it first (`copy_warehouse`).
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root, done = shared / name, shared / f"{name}.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            lake = build(root)
            fields = {**lake.__dict__, "csv_dir": str(lake.csv_dir), "work_dir": str(lake.work_dir)}
            done.write_text(json.dumps(fields))
    fields = json.loads(done.read_text())
    return Lake(
        **{**fields, "csv_dir": Path(fields["csv_dir"]), "work_dir": Path(fields["work_dir"])}
    )


@pytest.fixture(scope="session")
def generated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The project's generator at a small scale, fully built in one `dbt build` (every
    snapshot, every test), as `make bench` builds it."""
    generator = pytest.importorskip("dev.generator.generate")

    def build(root: Path) -> Lake:
        lake = make_lake(root, lambda out: generator.generate(out, scale=GENERATED_SCALE, seed=42))
        lake.dbt("build")
        return lake

    return built_once(tmp_path_factory, "generated", build)


@pytest.fixture(scope="session")
def synthetic_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The hand-made edge-case dataset, built as the DAG builds it: one dbt process per layer,
    each with an empty in-memory DuckDB that finds the layers before it in the lake, all
    spilling under one root (`spill_root`).

    Ingested like any delivery: its rows the spec ignores (empty customer_unique_id or
    order_purchase_timestamp) are kept and counted by ingestion and left out by the models.
    """

    def build(root: Path) -> Lake:
        lake = make_lake(root, write_synthetic)
        spill = spill_root(lake)
        spill.mkdir()
        for select in LAYERS.values():
            lake.dbt(
                "build", "--select", *select, extra_env={"OLIST_DUCKDB_SPILL_ROOT": str(spill)}
            )
        return lake

    return built_once(tmp_path_factory, "synthetic", build)

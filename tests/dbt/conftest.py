"""dbt builds on small datasets, once per session (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.dbt.helpers import GENERATED_SCALE, Lake, make_lake
from tests.dbt.synthetic import write_synthetic


@pytest.fixture(scope="session")
def generated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The project's generator at a small scale, fully built (every snapshot, every test)."""
    generator = pytest.importorskip("dev.generator.generate")
    root = tmp_path_factory.mktemp("generated")
    lake = make_lake(root, lambda out: generator.generate(out, scale=GENERATED_SCALE, seed=42))
    lake.dbt("build")
    return lake


@pytest.fixture(scope="session")
def synthetic_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The hand-made edge-case dataset, fully built.

    Ingested like any delivery: its rows the spec ignores (empty customer_unique_id or
    order_purchase_timestamp) are kept and counted by ingestion and left out by the models.
    """
    root = tmp_path_factory.mktemp("synthetic")
    lake = make_lake(root, write_synthetic)
    lake.dbt("build")
    return lake

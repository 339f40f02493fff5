"""One small generated dataset shared by the source tests (generation takes about a second)."""

from __future__ import annotations

import pytest

from include.olist_risk.sources.generator import GenerationResult, generate
from tests.sources.csv_rows import SCALE, SEED


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    return generate(tmp_path_factory.mktemp("olist-generated"), scale=SCALE, seed=SEED)

"""The Assets the DAGs update name where the data is, not a made-up scheme."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from include.olist_risk.lake import assets


@pytest.fixture
def reload_assets(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The assets module as the DAG parser would import it under the patched environment."""
    yield lambda: importlib.reload(assets)
    monkeypatch.undo()
    importlib.reload(assets)


@pytest.mark.parametrize("lake_uri", ["s3://olist-bucket/lake", "s3://olist-bucket/lake/"])
def test_s3_lake_assets_are_s3_uris(
    monkeypatch: pytest.MonkeyPatch, reload_assets, lake_uri: str
) -> None:
    monkeypatch.setenv("OLIST_LAKE_URI", lake_uri)
    reloaded = reload_assets()

    assert reloaded.RAW_BATCH.uri == "s3://olist-bucket/lake/raw"
    assert reloaded.FEATURE_STORE.uri == "s3://olist-bucket/lake/feature_store"


def test_local_lake_assets_are_file_uris_of_the_absolute_folder(
    monkeypatch: pytest.MonkeyPatch, reload_assets, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLIST_LAKE_URI", "my lake")
    reloaded = reload_assets()

    assert reloaded.FEATURE_STORE.uri == f"file://{tmp_path}/my%20lake/feature_store"
    assert reloaded.RAW_BATCH.uri == f"file://{tmp_path}/my%20lake/raw"

"""code_version identifies the code that produced the data: its content, not where or when."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from include.olist_risk.transform.code_version import TRANSFORM_DIR, code_version
from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """The dbt project and the runtime package copied elsewhere, without generated files;
    returns the project and the copy's transform package."""
    skip = shutil.ignore_patterns("target", "logs", "__pycache__", ".user.yml")
    project = shutil.copytree(DBT_PROJECT_DIR, tmp_path / "elsewhere" / "dbt", ignore=skip)
    package = shutil.copytree(TRANSFORM_DIR.parent, tmp_path / "elsewhere" / "pkg", ignore=skip)
    return project, package / "transform"


def test_the_same_code_elsewhere_has_the_same_version(copies: tuple[Path, Path]) -> None:
    project, package = copies
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text('{"generated_at": "now"}')
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")

    assert code_version(project, package) == code_version(DBT_PROJECT_DIR, TRANSFORM_DIR)
    assert code_version(project, package).startswith("code-")


@pytest.mark.parametrize(
    "changed",
    [
        "dbt/models/gold/customer_risk_tiers.sql",
        "dbt/seeds/risk_thresholds.csv",
        "dbt/dbt_project.yml",
        "pkg/transform/layer_build.py",
    ],
)
def test_any_change_to_what_shapes_the_data_changes_the_version(
    copies: tuple[Path, Path], changed: str
) -> None:
    project, package = copies
    before = code_version(project, package)
    path = project.parent / changed
    path.write_text(path.read_text() + "\n")

    assert code_version(project, package) != before


@pytest.mark.parametrize(
    "changed",
    [
        "feature_store/publish.py",
        "quality/contracts/silver/slv_orders.yml",
        "ingestion/validate.py",
    ],
)
def test_code_that_does_not_shape_the_data_leaves_the_version(
    copies: tuple[Path, Path], changed: str
) -> None:
    """Publishing, the quality gate and ingestion decide what becomes visible, not values."""
    project, transform = copies
    before = code_version(project, transform)
    path = transform.parent / changed
    path.write_text(path.read_text() + "\n")

    assert code_version(project, transform) == before

"""The runtime package is laid out by stage and its imports point one way.

Data flows olist -> ingestion -> lake -> dbt (transform) -> quality -> feature store; `lake`
(storage, layout, DuckDB connections, catalog) is the floor every stage stands on. A module may
import its own stage and earlier ones, never a later one, and production code (the package
and the DAGs) never imports development tooling (`dev/`), tests, benchmarks or the deployer,
since everything under `include/` and `dags/` ships to MWAA and `dev/` does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "include.olist_risk"
# Top-level modules (settings, callbacks) are the foundation: they import no stage.
STAGES = ("", "lake", "olist", "ingestion", "transform", "quality", "feature_store")
NOT_SHIPPED = ("dev", "tests", "benchmarks", "deploy")


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, lazy ones inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from pkg import submodule` imports the submodule
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _stage(module: str, package_dir: Path) -> str | None:
    """The stage (folder) of a module of the package, "" for top-level ones, None outside."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    first = module[len(PACKAGE) + 1 :].split(".")[0]
    return first if first and (package_dir / first).is_dir() else ""


def layout_violations(root: Path) -> list[str]:
    """Every import under `root` (a project tree) that breaks the layout's rules."""
    package_dir = root / Path(*PACKAGE.split("."))
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        stage = _stage(module, package_dir)
        if stage not in STAGES:
            problems.append(f"{relative}: stage {stage!r} is not one of {STAGES}")
            continue
        for line, target in _imports(path, module):
            where = f"{relative}.py:{line} imports {target}"
            if target.split(".")[0] in NOT_SHIPPED:
                problems.append(f"{where}: production code imports development tooling")
            target_stage = _stage(target, package_dir)
            if target_stage is None:
                continue
            if target_stage not in STAGES:
                problems.append(f"{where}: unknown stage {target_stage!r}")
            elif STAGES.index(target_stage) > STAGES.index(stage):
                problems.append(f"{where}: stage {stage or 'foundation'} imports a later stage")
    for path in sorted((root / "dags").glob("*.py")):
        for line, target in _imports(path, f"dags.{path.stem}"):
            if target.split(".")[0] in NOT_SHIPPED:
                problems.append(f"dags/{path.name}:{line} imports {target}: not shipped to MWAA")
    return problems


def test_the_package_imports_point_one_way_and_never_into_dev_tooling() -> None:
    assert layout_violations(PROJECT_ROOT) == []


def test_every_stage_is_a_folder_of_the_package() -> None:
    package_dir = PROJECT_ROOT / Path(*PACKAGE.split("."))
    folders = {p.name for p in package_dir.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(STAGES) - {""}


def test_development_tooling_lives_outside_the_shipped_package() -> None:
    package_dir = PROJECT_ROOT / Path(*PACKAGE.split("."))
    shipped = {p.stem for p in package_dir.rglob("*.py")}
    for tool in ("local_airflow", "local_run", "airflow_settings", "generate", "personas"):
        assert tool not in shipped
        assert list((PROJECT_ROOT / "dev").rglob(f"{tool}.py"))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project skeleton with every stage folder, plus `files`."""
    skeleton = {f"include/olist_risk/{stage}/__init__.py": "" for stage in STAGES if stage}
    for name, text in {**skeleton, "dags/example.py": "", **files}.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"include/olist_risk/lake/catalog.py": "from include.olist_risk.ingestion import b\n"},
            "stage lake imports a later stage",
        ),
        (
            {"include/olist_risk/ingestion/tasks.py": "def f():\n    import dev.local_run\n"},
            "production code imports development tooling",
        ),
        (
            {"include/olist_risk/quality/sensor.py": "from ..feature_store import publish\n"},
            "stage quality imports a later stage",
        ),
        (
            {"include/olist_risk/config.py": "from include.olist_risk.lake import storage\n"},
            "stage foundation imports a later stage",
        ),
        ({"include/olist_risk/misc/thing.py": ""}, "stage 'misc' is not one of"),
        ({"dags/example.py": "from dev.generator import generate\n"}, "not shipped to MWAA"),
    ],
)
def test_the_layout_check_catches_each_kind_of_violation(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    problems = layout_violations(_tree(tmp_path, files))
    assert any(expected in problem for problem in problems), problems


def test_the_layout_check_accepts_downstream_imports(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "include/olist_risk/feature_store/tasks.py": (
                "from include.olist_risk.quality import verify\n"
                "from include.olist_risk.lake.storage import Lake\n"
                "from include.olist_risk.config import load_settings\n"
                "from . import publish\n"
            ),
            "dags/example.py": "from include.olist_risk.feature_store import tasks\n",
        },
    )
    assert layout_violations(tree) == []

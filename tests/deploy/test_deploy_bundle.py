"""Building the MWAA artifacts locally: what lands where, only what runs, nothing downloaded."""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from deploy import wheelhouse as wheelhouse_module
from deploy.bundle import DEV_ONLY_PACKAGES, Bundle, build_bundle
from deploy.errors import DeployError
from deploy.keys import MWAA_DIR, TOOLS_REQUIREMENTS
from tests.deploy.conftest import REPO_ROOT
from tests.isolation import shared_file

# MWAA's own check (aws/amazon-mwaa-docker-images, mwaa/entrypoint.py,
# _requirements_has_constraints): a line matching it, commented out or not, makes MWAA skip
# its constraints file.
MWAA_CONSTRAINT_PATTERN = re.compile(r"-c |--constraint ")


def _bundle(project: Path, tmp_path: Path, wheelhouse: Path | None, **kw: object) -> Bundle:
    out = tmp_path / f"bundle-{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    return build_bundle(project, out, bucket="airflow-test", wheelhouse=wheelhouse, **kw)


def test_dags_prefix_carries_include_and_dbt_project(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    bundle = _bundle(fake_project, tmp_path, wheelhouse)
    keys = {a.key for a in bundle.dag_files}
    assert keys == {
        "dags/.airflowignore",
        "dags/feature_store.py",
        "dags/include/__init__.py",
        "dags/include/olist_risk/__init__.py",
        "dags/include/olist_risk/config.py",
        "dags/dbt_project/dbt_project.yml",
        "dags/dbt_project/models/gold/fct.sql",
        "dags/dbt_project/target/manifest.json",
    }
    ignore = next(a for a in bundle.dag_files if a.key == "dags/.airflowignore")
    assert {"include/", "dbt_project/"} <= set(ignore.path.read_text().split())


def test_existing_airflowignore_is_kept(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    (fake_project / "dags/.airflowignore").write_text("scratch/\ninclude/\n")
    bundle = _bundle(fake_project, tmp_path, wheelhouse)
    ignore = next(a for a in bundle.dag_files if a.key == "dags/.airflowignore")
    assert ignore.path.read_text().split() == ["scratch/", "include/", "dbt_project/"]


def test_plugins_zip_holds_plugins_and_both_wheel_sets(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    bundle = _bundle(fake_project, tmp_path, wheelhouse)
    names = set(zipfile.ZipFile(bundle.plugins.path).namelist())
    assert names == {
        "olist_views.py",
        "wheelhouse/tools/requirements.txt",
        "wheelhouse/tools/olist_fake_tool-0.1-py3-none-any.whl",
        "wheelhouse/airflow/olist_fake_cosmos-0.1-py3-none-any.whl",
    }
    shipped = zipfile.ZipFile(bundle.plugins.path).read("wheelhouse/tools/requirements.txt")
    assert shipped == (fake_project / TOOLS_REQUIREMENTS).read_bytes()


def test_artifacts_are_byte_identical_across_builds(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    """Same input, same bytes: an unchanged plugins.zip must not become a new S3 version."""
    first = _bundle(fake_project, tmp_path, wheelhouse)
    second = _bundle(fake_project, tmp_path, wheelhouse)
    assert [a.sha256 for a in first.versioned] == [a.sha256 for a in second.versioned]


def test_requirements_install_offline_from_shipped_wheels(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    text = _bundle(fake_project, tmp_path, wheelhouse).requirements.path.read_text()
    assert "--no-index\n" in text
    assert "--find-links /usr/local/airflow/plugins/wheelhouse/airflow\n" in text
    assert text.endswith((MWAA_DIR / "requirements.txt").read_text())


def test_without_airflow_wheels_requirements_use_the_index(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    for wheel in (wheelhouse / "airflow").glob("*.whl"):
        wheel.unlink()
    bundle = _bundle(fake_project, tmp_path, wheelhouse)
    assert bundle.requirements.path.read_text() == (MWAA_DIR / "requirements.txt").read_text()
    assert any("egress" in note for note in bundle.notes)


def test_startup_script_gets_this_deployments_lake(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    text = _bundle(fake_project, tmp_path, wheelhouse).startup.path.read_text()
    assert 'export OLIST_LAKE_URI="s3://airflow-test/lake"' in text
    assert 'export OLIST_LANDING_URI="s3://airflow-test/landing"' in text
    assert "@OLIST_" not in text
    custom = _bundle(fake_project, tmp_path, wheelhouse, lake_uri="s3://other/lake")
    assert 'OLIST_LAKE_URI="s3://other/lake"' in custom.startup.path.read_text()


def test_empty_wheelhouse_fails_clearly(fake_project: Path, tmp_path: Path) -> None:
    (tmp_path / "empty/tools").mkdir(parents=True)
    with pytest.raises(DeployError, match="holds no wheels"):
        _bundle(fake_project, tmp_path, tmp_path / "empty")


def test_missing_manifest_without_dbt_fails_clearly(
    fake_project: Path, wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fake_project / "dbt_project/target/manifest.json").unlink()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere/python"))
    with pytest.raises(DeployError, match="dbt parse"):
        _bundle(fake_project, tmp_path, wheelhouse)


def test_dry_run_does_not_parse_a_missing_manifest(fake_project: Path, tmp_path: Path) -> None:
    (fake_project / "dbt_project/target/manifest.json").unlink()
    bundle = _bundle(fake_project, tmp_path, None, dry_run=True)
    assert any("would run" in note and "parse" in note for note in bundle.notes)
    assert not (fake_project / "dbt_project/target/manifest.json").exists()


def test_wheelhouse_build_resolves_then_downloads_wheels_only(tmp_path: Path) -> None:
    """The wheelhouse commands, with the registry replaced by a fake runner."""
    calls: list[list[str]] = []

    def fake_run(cmd: Sequence[str]) -> None:
        calls.append(list(cmd))
        if "compile" in cmd:
            lock = Path(cmd[cmd.index("-o") + 1])
            lock.write_text(
                "apache-airflow==3.3.1\n    # via -r requirements.txt\n"
                "Flask==3.1.3\nastronomer-cosmos==1.15.1\nduckdb==1.4.4\n"
                "dbt-core==1.11.16\n"
            )

    wheelhouse_module.build_wheelhouse(tmp_path / "wh", constraints="constraints.txt", run=fake_run)
    tools_compile, tools_download, af_compile, af_download = calls
    for compile_cmd in (tools_compile, af_compile):
        assert compile_cmd[compile_cmd.index("--python-version") + 1] == "3.12"
        assert "--only-binary" in compile_cmd
    assert "-c" not in tools_compile, "the tools venv must not be held to Airflow's pins"
    assert af_compile[af_compile.index("-c") + 1] == "constraints.txt"
    for download in (tools_download, af_download):
        assert {"download", "--no-deps", "--only-binary=:all:"} <= set(download)
        assert download[download.index("--python-version") + 1] == "3.12"
        assert "manylinux_2_28_x86_64" in download and "manylinux2014_x86_64" in download
    tools_pins = (tmp_path / "wh/tools/requirements.lock.download.txt").read_text().split()
    af_pins = (tmp_path / "wh/airflow/requirements.lock.download.txt").read_text().split()
    assert "apache-airflow==3.3.1" in tools_pins  # the fake lock; tools skip nothing
    assert af_pins == ["astronomer-cosmos==1.15.1", "duckdb==1.4.4", "dbt-core==1.11.16"]


def test_essential_package_list_matches_mwaa() -> None:
    """Wheels of MWAA's non-overridable packages are not shipped: the list must be MWAA's."""
    text = shared_file("mwaa/mwaa-essential-constraints-3.3.1.txt").read_text()
    names = {
        re.sub(r"[-_.]+", "-", m[1]).lower()
        for m in re.finditer(r"^([A-Za-z0-9._-]+)==", text, flags=re.M)
    }
    assert names == wheelhouse_module.MWAA_ESSENTIAL_PACKAGES


def test_requirements_never_opt_out_of_mwaa_constraints(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    """No line of the source or the uploaded file may look like a constraint to MWAA."""
    uploaded = _bundle(fake_project, tmp_path, wheelhouse).requirements.path.read_text()
    for text in ((MWAA_DIR / "requirements.txt").read_text(), uploaded):
        hits = [line for line in text.splitlines() if MWAA_CONSTRAINT_PATTERN.search(line)]
        assert not hits, f"MWAA would skip its constraints because of: {hits}"
    assert MWAA_CONSTRAINT_PATTERN.search("# pip install --constraint x.txt")


def test_only_the_runtime_package_ships_from_include(
    fake_project: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    (fake_project / "include/scratch_notes.py").write_text("X = 1\n")
    (fake_project / "include/other_pkg").mkdir()
    (fake_project / "include/other_pkg/__init__.py").write_text("")
    (fake_project / "dbt_project/.sqlfluff").write_text("[sqlfluff]\n")
    (fake_project / "plugins/README.md").write_text("# docs\n")
    bundle = _bundle(fake_project, tmp_path, wheelhouse)
    keys = {a.key for a in bundle.dag_files}
    assert not any("scratch_notes" in k or "other_pkg" in k for k in keys)
    assert "dags/dbt_project/.sqlfluff" not in keys
    assert "README.md" not in zipfile.ZipFile(bundle.plugins.path).namelist()


@pytest.mark.parametrize(
    "source", ["from dev.generator import generate\n", "import tests.conftest\n"]
)
def test_shipped_code_importing_dev_code_fails_the_build(
    fake_project: Path, wheelhouse: Path, tmp_path: Path, source: str
) -> None:
    """dev/ and tests/ are not on MWAA: an import of them would fail there, so fail here."""
    (fake_project / "include/olist_risk/uses_dev.py").write_text(source)
    with pytest.raises(DeployError, match=r"uses_dev\.py"):
        _bundle(fake_project, tmp_path, wheelhouse)


def test_real_project_bundle_is_only_what_runs(tmp_path: Path) -> None:
    """The repository's own bundle: exact top level, no development or test module in it."""
    out = tmp_path / "real"
    out.mkdir()
    bundle = build_bundle(REPO_ROOT, out, bucket="b", wheelhouse=None, dry_run=True)
    dag_files = sorted(p.name for p in (REPO_ROOT / "dags").glob("*.py"))
    top = bundle.top_level()
    assert top["dags/"] == sorted([".airflowignore", "dbt_project", "include", *dag_files])
    # the UI plugin (its package is kept out of Airflow's module scan by .airflowignore)
    assert top["plugins.zip"] == sorted(
        [".airflowignore", "olist_feature_store", "olist_feature_store_plugin.py", "wheelhouse"]
    )
    assert top["files"] == ["plugins.zip", "requirements.txt", "startup.sh"]
    keys = [a.key for a in bundle.dag_files]
    include = {k.split("/")[2] for k in keys if k.startswith("dags/include/")}
    assert include == {"__init__.py", "olist_risk"}
    dbt_top = {k.split("/")[2] for k in keys if k.startswith("dags/dbt_project/")}
    assert dbt_top <= {
        "dbt_project.yml",
        "profiles.yml",
        "models",
        "macros",
        "seeds",
        "tests",
        "target",
        "analyses",
        "snapshots",
    }
    assert "dags/dbt_project/dbt_project.yml" in keys
    target = {k for k in keys if k.startswith("dags/dbt_project/target/")}
    assert target <= {
        "dags/dbt_project/target/manifest.json",
        "dags/dbt_project/target/partial_parse.msgpack",
    }
    # The runtime package carries its Soda contracts.
    assert any(k.startswith("dags/include/olist_risk/quality/contracts/") for k in keys)
    dev_names = ("local_airflow", "local_run", "metadata_db", "airflow_settings", "generator")
    for key in keys:
        parts = key.split("/")
        assert parts[1] not in DEV_ONLY_PACKAGES, key
        assert not any(name in key for name in dev_names), key
        assert not parts[-1].startswith(("test_", "conftest")), key


def test_dev_only_packages_are_the_repositorys_top_level_tooling() -> None:
    """The import guard's list names real folders (a renamed dev/ would slip through)."""
    for name in DEV_ONLY_PACKAGES:
        assert (REPO_ROOT / name).is_dir(), name

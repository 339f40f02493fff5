"""startup.sh, run for real with sh: exports, and an offline venv build from shipped wheels.

The wheelhouse holds one hand-made wheel with a `dbt` console script, so the test proves the
MWAA path end to end on this machine: plugins.zip layout -> pip --no-index -> the executable
OLIST_DBT_EXECUTABLE points at. Nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy.bundle import build_bundle
from deploy.keys import MWAA_DIR, TOOLS_REQUIREMENTS
from tests.deploy.conftest import make_wheel

FAKE_DBT = "def main():\n    print('fake dbt from the tools venv')\n"


@pytest.fixture
def mwaa_home(fake_project: Path, tmp_path: Path) -> Path:
    """An AIRFLOW_HOME laid out like MWAA's: plugins.zip extracted into plugins/."""
    wheelhouse = tmp_path / "wheelhouse"
    wheel = make_wheel(
        wheelhouse / "tools", "olist_fake_dbt", "0.1", {"olist_fake_dbt.py": FAKE_DBT}
    )
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr(
            "olist_fake_dbt-0.1.dist-info/entry_points.txt",
            "[console_scripts]\ndbt = olist_fake_dbt:main\n",
        )
    # Build with a stand-in tools requirements file: the real one names dbt-core & co.
    tools_requirements = fake_project / TOOLS_REQUIREMENTS
    tools_requirements.parent.mkdir(parents=True, exist_ok=True)
    tools_requirements.write_text("olist-fake-dbt==0.1\n")
    mwaa_dir = MWAA_DIR
    out = tmp_path / "bundle"
    out.mkdir()
    bundle = build_bundle(
        fake_project, out, bucket="airflow-b", wheelhouse=wheelhouse, mwaa_dir=mwaa_dir
    )
    home = tmp_path / "airflow-home"
    zipfile.ZipFile(bundle.plugins.path).extractall(home / "plugins")
    (home / "startup.sh").write_bytes(bundle.startup.path.read_bytes())
    return home


def _source(home: Path, component: str) -> dict[str, str]:
    """Source startup.sh in sh (as MWAA does) and return the environment it leaves."""
    env = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(home),
        "MWAA_AIRFLOW_COMPONENT": component,
        "OLIST_BASE_PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["sh", "-c", f". '{home}/startup.sh' && env"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    exported = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    exported["_stderr"] = result.stderr
    exported["_stdout"] = result.stdout
    return exported


def test_startup_script_is_valid_posix_sh() -> None:
    result = subprocess.run(["sh", "-n", str(MWAA_DIR / "startup.sh")], capture_output=True)
    assert result.returncode == 0, result.stderr


def test_worker_gets_telemetry_off_paths_and_an_offline_tools_venv(mwaa_home: Path) -> None:
    env = _source(mwaa_home, "worker")
    assert "ERROR" not in env["_stderr"], env["_stderr"]
    assert env["SODA_CORE_TELEMETRY_ENABLED"] == "false"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert env["OLIST_LAKE_URI"] == "s3://airflow-b/lake"
    venv = mwaa_home / "olist-tools-venv"
    assert env["OLIST_DBT_EXECUTABLE"] == str(venv / "bin/dbt")
    assert env["OLIST_TOOL_PYTHON"] == str(venv / "bin/python")
    assert env["OLIST_DBT_PROJECT_DIR"] == str(mwaa_home / "dags/dbt_project")
    ran = subprocess.run([env["OLIST_DBT_EXECUTABLE"]], capture_output=True, text=True)
    assert ran.stdout.strip() == "fake dbt from the tools venv"
    # Isolated from Airflow's environment: the venv must not see Airflow's site-packages.
    probe = subprocess.run(
        [env["OLIST_TOOL_PYTHON"], "-c", "import airflow"], capture_output=True, text=True
    )
    assert probe.returncode != 0
    again = _source(mwaa_home, "worker")
    assert "tools venv" in again["_stdout"] and "is current" in again["_stdout"]


def test_webserver_skips_the_venv_build(mwaa_home: Path) -> None:
    env = _source(mwaa_home, "webserver")
    assert env["DO_NOT_TRACK"] == "1"
    assert not (mwaa_home / "olist-tools-venv").exists()


def test_missing_wheelhouse_is_reported_but_does_not_block_startup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "startup.sh").write_bytes((MWAA_DIR / "startup.sh").read_bytes())
    env = _source(home, "worker")
    assert "ERROR" in env["_stderr"]
    assert env["SODA_CORE_TELEMETRY_ENABLED"] == "false"

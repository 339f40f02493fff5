"""The MWAA requirements split, proven by resolution against the package registry.

MWAA installs deploy/mwaa/requirements.txt into Airflow's environment under its constraints;
dbt and Soda go into a separate venv built from requirements/tools.txt. These
tests resolve both for Python 3.12 on manylinux x86_64 with wheels only (what the wheelhouse
downloads), and show why the split exists: dbt-core and soda-core do not resolve under
MWAA's constraints. uv resolves in seconds; nothing is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.keys import MWAA_DIR, PROJECT_ROOT, TOOLS_REQUIREMENTS
from deploy.wheelhouse import PYTHON_VERSION, UV_PLATFORM
from tests.isolation import shared_file

pytestmark = pytest.mark.network_resolution

CONSTRAINTS = "mwaa/constraints-3.3.1.txt"
ESSENTIAL = "mwaa/mwaa-essential-constraints-3.3.1.txt"


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv is missing from the venv (requirements/local.in pins it)")
    return found


def uv_compile(requirements: Path, *constraints: Path) -> subprocess.CompletedProcess[str]:
    """`uv pip compile` for MWAA's interpreter and platform, wheels only, to stdout."""
    cmd = [
        _uv(),
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        "--python-version",
        PYTHON_VERSION,
        "--python-platform",
        UV_PLATFORM,
        "--only-binary",
        ":all:",
        str(requirements),
    ]
    for constraint in constraints:
        cmd += ["-c", str(constraint)]
    # Never let uv fetch a CPython 3.12 build: --python-version only selects wheels.
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def pins(lock: str) -> dict[str, str]:
    found = {}
    for line in lock.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_airflow_side_resolves_under_mwaa_constraints() -> None:
    result = uv_compile(
        MWAA_DIR / "requirements.txt",
        shared_file(CONSTRAINTS),
        shared_file(ESSENTIAL),
    )
    assert result.returncode == 0, result.stderr
    locked = pins(result.stdout)
    assert locked["apache-airflow"] == "3.3.1"
    assert locked["duckdb"] == "1.4.4"
    assert "duckdb-ext-httpfs" in locked
    # MWAA's pins win, which is exactly why dbt and Soda cannot join this environment.
    assert locked["pathspec"] == "1.1.1"
    assert locked["requests"] == "2.34.2"
    assert not {"dbt-core", "soda-core"} & locked.keys()


def test_tools_venv_resolves_on_its_own() -> None:
    result = uv_compile(PROJECT_ROOT / TOOLS_REQUIREMENTS)
    assert result.returncode == 0, result.stderr
    locked = pins(result.stdout)
    assert locked["dbt-core"].startswith("1.11.")
    assert locked["dbt-duckdb"].startswith("1.11.")
    assert locked["soda-core"].startswith("4.28")
    assert locked["soda-duckdb"].startswith("4.28")
    # Same DuckDB as the Airflow side: every process touching one DuckDB file must match.
    assert locked["duckdb"] == "1.4.4"
    assert locked["duckdb-ext-httpfs"].startswith("1.4.4")
    assert _version(locked["pathspec"]) < (0, 13)
    assert _version(locked["requests"]) < (2, 34)


@pytest.mark.parametrize(
    ("requirement", "blocker"),
    [("dbt-core~=1.11.0", "pathspec"), ("soda-core~=4.28", "requests")],
)
def test_dbt_and_soda_cannot_join_airflows_environment(
    tmp_path: Path, requirement: str, blocker: str
) -> None:
    """The reason for the separate venv; if this ever resolves, the split can be revisited."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(requirement + "\n")
    result = uv_compile(requirements, shared_file(CONSTRAINTS))
    assert result.returncode != 0, f"{requirement} now resolves under MWAA's constraints"
    assert blocker in result.stderr

"""The wheels shipped in plugins.zip, resolved for MWAA's Python and platform.

Workers in private subnets have no internet egress, so every package is shipped as a wheel:
``tools/`` for the dbt + Soda venv startup.sh builds, ``airflow/`` for requirements.txt.
uv resolves (the same check tests/deploy runs), pip downloads exactly those pins, wheels
only. CI never runs this: it passes a prepared ``--wheelhouse`` or a fake runner.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from deploy.errors import DeployError
from deploy.keys import (
    AIRFLOW_WHEELS,
    MWAA_CONSTRAINTS,
    MWAA_DIR,
    PROJECT_ROOT,
    TOOLS_REQUIREMENTS,
    TOOLS_WHEELS,
)

PYTHON_VERSION = "3.12"
UV_PLATFORM = "x86_64-manylinux_2_28"
# pip does not expand manylinux_2_x tags downwards (only manylinux2014 -> 2010 -> 1), so list
# every glibc level up to the one resolved for; MWAA 3.x runs Amazon Linux 2023 (glibc 2.34).
PIP_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)),
    "manylinux2014_x86_64",
)
# Names in MWAA's mwaa-essential-constraints-3.3.1.txt: always installed on MWAA and not
# overridable, so their wheels need not be shipped (tests check this list against the file).
MWAA_ESSENTIAL_PACKAGES = frozenset(
    {
        "apache-airflow",
        "flask-appbuilder",
        "flask-babel",
        "flask-jwt-extended",
        "flask-limiter",
        "flask-login",
        "flask-sqlalchemy",
        "flask-session",
        "flask-wtf",
        "flask",
        "gunicorn",
        "billiard",
        "celery",
        "gevent",
        "greenlet",
        "kombu",
        "vine",
        "sqlalchemy-utils",
        "sqlalchemy",
        "statsd",
        "watchtower",
        "fluent-logger",
    }
)

Runner = Callable[[Sequence[str]], None]


def run(cmd: Sequence[str]) -> None:
    """Run a build command, echoing it, so a failed download shows what was attempted."""
    print("+", " ".join(cmd), file=sys.stderr)
    # UV_PYTHON_DOWNLOADS=never: --python-version only selects wheels; never fetch a CPython.
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(list(cmd), check=True, env=env)


def _tool(name: str) -> str:
    """Prefer the tool installed next to this interpreter (the project venv), then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise DeployError(f"`{name}` not found next to {sys.executable} or on PATH")
    return found


def _pinned(lock_text: str) -> list[tuple[str, str]]:
    """(name, version) pairs of a `uv pip compile` output, names PEP 503-normalised."""
    pins = []
    for line in lock_text.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;#]+)", line)
        if match:
            pins.append((re.sub(r"[-_.]+", "-", match[1]).lower(), match[2]))
    return pins


def wheelhouse_commands(
    requirements: Path, lock: Path, dest: Path, constraints: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """The resolve (uv) and download (pip) commands for one wheel set.

    uv resolves for MWAA's Python and platform (the same check the tests run); pip then
    downloads exactly those pins, wheels only, for that platform.
    """
    compile_cmd = [
        _tool("uv"),
        "pip",
        "compile",
        "--quiet",
        "--python-version",
        PYTHON_VERSION,
        "--python-platform",
        UV_PLATFORM,
        "--only-binary",
        ":all:",
        str(requirements),
        "-o",
        str(lock),
    ]
    for constraint in constraints:
        compile_cmd += ["-c", constraint]
    download_cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *[arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)],
        "-d",
        str(dest),
        "-r",
        str(lock.with_suffix(".download.txt")),
    ]
    return compile_cmd, download_cmd


def _build_wheel_set(
    requirements: Path,
    dest: Path,
    constraints: Sequence[str],
    skip: Iterable[str],
    runner: Runner,
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    lock = dest / "requirements.lock.txt"
    compile_cmd, download_cmd = wheelhouse_commands(requirements, lock, dest, constraints)
    runner(compile_cmd)
    skipped = set(skip)
    pins = [f"{n}=={v}" for n, v in _pinned(lock.read_text()) if n not in skipped]
    lock.with_suffix(".download.txt").write_text("\n".join(pins) + "\n")
    runner(download_cmd)


def build_wheelhouse(
    dest: Path,
    *,
    mwaa_dir: Path = MWAA_DIR,
    constraints: str = str(MWAA_CONSTRAINTS),
    run: Runner = run,
) -> Path:
    """Download both wheel sets (needs registry access; tests inject `run` or --wheelhouse).

    tools/: the dbt + Soda venv, resolved without Airflow's constraints.
    airflow/: the Airflow-side requirements resolved under MWAA's constraints, minus the
    packages MWAA always has, so requirements.txt can install with --no-index.
    """
    _build_wheel_set(PROJECT_ROOT / TOOLS_REQUIREMENTS, dest / TOOLS_WHEELS, (), (), run)
    _build_wheel_set(
        mwaa_dir / "requirements.txt",
        dest / AIRFLOW_WHEELS,
        (constraints,),
        MWAA_ESSENTIAL_PACKAGES,
        run,
    )
    return dest

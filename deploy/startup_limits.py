"""startup.sh and plugins.zip against MWAA's limits, measured on a clean Python 3.12.

MWAA stops a startup script that runs longer than 5 minutes (the component then fails to
start) and refuses a plugins.zip of 1 GB or more. Most of both is the dbt + Soda venv:
startup.sh builds it on every worker from the wheels plugins.zip ships.

``python -m deploy.deploy ... --measure-startup`` runs the real startup.sh, from the real
plugins.zip (extracted as MWAA extracts it), with a fresh virtualenv and no pip cache, on a
Python 3.12 (MWAA 3.3.1 runs 3.12.13), and records wall time, CPU time, the venv's size and
plugins.zip's size in ``deploy/startup-measured.json``. Every ``--dry-run`` prints the last
record against the limits, and says when ``requirements/tools.txt`` changed since.

Wall time depends on how busy the measuring machine is; CPU time hardly does, and is what an
otherwise idle one-vCPU worker (``mw1.small``) needs, give or take its disk. Both are kept,
with the machine's load when measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.bundle import PLUGINS_ZIP_LIMIT
from deploy.errors import DeployError

STARTUP_LIMIT_SECONDS = 300
MWAA_PYTHON = "3.12.13"
MEASUREMENT_FILE = Path(__file__).resolve().parent / "startup-measured.json"
_VENV = "olist-tools-venv"


@dataclass(frozen=True)
class StartupMeasurement:
    """One run of startup.sh on a worker-like home; sizes in bytes, times in seconds."""

    measured_at: str
    python: str
    seconds: float
    cpu_seconds: float
    venv_bytes: int
    venv_files: int
    plugins_zip_bytes: int
    tools_wheels: int
    tools_requirements_sha256: str
    load_average: float
    cpus: int

    @property
    def busy(self) -> bool:
        """More runnable processes than CPUs: the wall time overstates a worker's."""
        return self.load_average > self.cpus

    @property
    def over_limits(self) -> list[str]:
        over = []
        if self.seconds > STARTUP_LIMIT_SECONDS:
            over.append(f"startup.sh took {self.seconds:.0f} s > {STARTUP_LIMIT_SECONDS} s")
        if self.plugins_zip_bytes >= PLUGINS_ZIP_LIMIT:
            over.append(f"plugins.zip is {self.plugins_zip_bytes:,d} B >= 1 GB")
        return over


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def python_312() -> str:
    """A Python 3.12 to measure with: `python3.12` on PATH."""
    found = shutil.which("python3.12")
    if not found:
        raise DeployError("no python3.12 on PATH: pass --startup-python (MWAA runs 3.12)")
    return found


def _python_version(python: str) -> str:
    result = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(f"{python} does not run: {result.stderr.strip()}")
    return result.stdout.strip()


def _tree_size(root: Path) -> tuple[int, int]:
    """(bytes, files) below root, symlinks not followed (what the venv occupies)."""
    total = files = 0
    for directory, _, names in os.walk(root):
        for name in names:
            total += os.lstat(os.path.join(directory, name)).st_size
            files += 1
    return total, files


def measure_startup(
    plugins_zip: Path,
    startup: Path,
    *,
    python: str,
    workdir: Path,
    tools_requirements: Path,
) -> StartupMeasurement:
    """Run startup.sh as a worker would, on a fresh home, and measure it."""
    home = workdir / "airflow-home"
    if home.exists():
        shutil.rmtree(home)
    with zipfile.ZipFile(plugins_zip) as archive:
        archive.extractall(home / "plugins")
        tools_wheels = sum(
            1
            for name in archive.namelist()
            if name.startswith("wheelhouse/tools/") and name.endswith(".whl")
        )
    script = home / "startup.sh"
    shutil.copyfile(startup, script)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "AIRFLOW_HOME": str(home),
        "MWAA_AIRFLOW_COMPONENT": "worker",
        "OLIST_BASE_PYTHON": python,
    }
    version = _python_version(python)
    load = os.getloadavg()[0]
    before = os.times()
    start = time.monotonic()
    # MWAA sources the script; `env` afterwards shows what it exported.
    result = subprocess.run(
        ["sh", "-c", '. "$0" && env', str(script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=STARTUP_LIMIT_SECONDS * 4,
    )
    seconds = time.monotonic() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    venv = home / _VENV
    if result.returncode != 0 or "ERROR" in result.stderr or not (venv / "bin" / "dbt").exists():
        raise DeployError(
            "startup.sh did not build the tools venv:\n" + result.stdout + result.stderr
        )
    venv_bytes, venv_files = _tree_size(venv)
    return StartupMeasurement(
        measured_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        python=version,
        seconds=round(seconds, 1),
        cpu_seconds=round(cpu, 1),
        venv_bytes=venv_bytes,
        venv_files=venv_files,
        plugins_zip_bytes=plugins_zip.stat().st_size,
        tools_wheels=tools_wheels,
        tools_requirements_sha256=sha256_of(tools_requirements),
        load_average=round(load, 1),
        cpus=os.cpu_count() or 1,
    )


def save(measurement: StartupMeasurement, path: Path = MEASUREMENT_FILE) -> None:
    path.write_text(json.dumps(asdict(measurement), indent=2, sort_keys=True) + "\n")


def load(path: Path = MEASUREMENT_FILE) -> StartupMeasurement | None:
    if not path.is_file():
        return None
    return StartupMeasurement(**json.loads(path.read_text()))


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def describe(
    measurement: StartupMeasurement | None, *, tools_requirements_sha256: str, fresh: bool
) -> list[str]:
    """The dry-run's lines: startup time, venv size and plugins.zip size against the limits."""
    lines = [
        f"  MWAA limits: startup.sh <= {STARTUP_LIMIT_SECONDS // 60} min, plugins.zip < 1 GB "
        f"({'measured now' if fresh else 'last measurement'}; --measure-startup re-measures)"
    ]
    if measurement is None:
        lines.append("    startup: never measured; run with --measure-startup (needs Python 3.12)")
        return lines
    m = measurement
    lines.append(
        f"    startup.sh on a clean Python {m.python} (MWAA runs {MWAA_PYTHON}), "
        f"{m.measured_at}: {m.seconds:.0f} s wall, {m.cpu_seconds:.0f} s CPU, "
        f"{m.seconds / STARTUP_LIMIT_SECONDS:.0%} of the {STARTUP_LIMIT_SECONDS} s limit"
    )
    if m.busy:
        lines.append(
            f"      (measuring machine busy: load {m.load_average:.1f} on {m.cpus} CPUs; an "
            f"idle one-vCPU worker needs about the CPU time)"
        )
    lines.append(
        f"    tools venv: {_mb(m.venv_bytes)} in {m.venv_files:,d} files, "
        f"from {m.tools_wheels} wheels"
    )
    lines.append(
        f"    plugins.zip with the wheels: {_mb(m.plugins_zip_bytes)}, "
        f"{m.plugins_zip_bytes / PLUGINS_ZIP_LIMIT:.1%} of the 1 GB limit"
    )
    over = m.over_limits
    lines.append("    OVER MWAA's LIMITS: " + "; ".join(over) if over else "    within both limits")
    if m.tools_requirements_sha256 != tools_requirements_sha256:
        lines.append("    stale: requirements/tools.txt changed since; re-run --measure-startup")
    return lines

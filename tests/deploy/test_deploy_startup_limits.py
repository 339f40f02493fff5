"""startup.sh's time, the tools venv's size and plugins.zip's size against MWAA's limits.

The dry-run prints the last measurement (deploy/startup-measured.json) against the 5-minute
and 1-GB limits; --measure-startup re-measures by running the real startup.sh. The lines are
checked here, not the times: those depend on the machine.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import cli
from deploy.bundle import PLUGINS_ZIP_LIMIT, build_bundle
from deploy.keys import TOOLS_REQUIREMENTS
from deploy.startup_limits import (
    MEASUREMENT_FILE,
    STARTUP_LIMIT_SECONDS,
    StartupMeasurement,
    describe,
    load,
    measure_startup,
    save,
    sha256_of,
)
from tests.deploy.conftest import make_wheel

RECORD = StartupMeasurement(
    measured_at="2026-12-01T15:00:00Z",
    python="3.12.1",
    seconds=80.0,
    cpu_seconds=31.0,
    venv_bytes=268_000_000,
    venv_files=9_000,
    plugins_zip_bytes=231_000_000,
    tools_wheels=88,
    tools_requirements_sha256="",
    load_average=0.5,
    cpus=2,
)


def _dry_run(project: Path, record: Path, *extra: str) -> list[str]:
    return [
        "--bucket",
        "olist-b",
        "--environment",
        "olist-test",
        "--project-root",
        str(project),
        "--startup-record",
        str(record),
        "--dry-run",
        *extra,
    ]


def test_dry_run_prints_startup_time_venv_size_and_plugins_zip_against_the_limits(
    fake_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "startup-measured.json"
    sha = sha256_of(fake_project / TOOLS_REQUIREMENTS)
    save(dataclasses.replace(RECORD, tools_requirements_sha256=sha), record)
    assert cli.main(_dry_run(fake_project, record)) == 0
    out = capsys.readouterr().out
    assert "MWAA limits: startup.sh <= 5 min, plugins.zip < 1 GB (last measurement" in out
    assert "startup.sh on a clean Python 3.12.1 (MWAA runs 3.12.13)" in out
    assert "s wall" in out and "s CPU" in out and "of the 300 s limit" in out
    assert "tools venv: 268.0 MB in 9,000 files, from 88 wheels" in out
    assert "plugins.zip with the wheels: 231.0 MB, 23.1% of the 1 GB limit" in out
    assert "within both limits" in out
    assert "stale" not in out


def test_dry_run_without_a_measurement_says_how_to_measure(
    fake_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(_dry_run(fake_project, tmp_path / "none.json")) == 0
    out = capsys.readouterr().out
    assert "startup: never measured; run with --measure-startup" in out


def test_measurement_of_other_tools_requirements_is_flagged_stale() -> None:
    lines = describe(RECORD, tools_requirements_sha256="changed", fresh=False)
    assert any("stale: requirements/tools.txt changed since" in line for line in lines)


@pytest.mark.parametrize(
    ("seconds", "plugins_zip_bytes", "verdict"),
    [
        (80.0, 231_000_000, "within both limits"),
        (STARTUP_LIMIT_SECONDS + 1.0, 231_000_000, "OVER MWAA's LIMITS: startup.sh took"),
        (80.0, PLUGINS_ZIP_LIMIT, "OVER MWAA's LIMITS: plugins.zip is"),
    ],
)
def test_limits_verdict(seconds: float, plugins_zip_bytes: int, verdict: str) -> None:
    record = dataclasses.replace(RECORD, seconds=seconds, plugins_zip_bytes=plugins_zip_bytes)
    lines = describe(record, tools_requirements_sha256="", fresh=True)
    assert any(line.strip().startswith(verdict) for line in lines), lines


@pytest.mark.parametrize(("load_average", "noted"), [(0.5, False), (18.0, True)])
def test_busy_measuring_machine_is_noted(load_average: float, noted: bool) -> None:
    record = dataclasses.replace(RECORD, load_average=load_average)
    lines = describe(record, tools_requirements_sha256="", fresh=False)
    assert any("measuring machine busy" in line for line in lines) is noted


def test_measure_startup_runs_the_real_script_from_plugins_zip(
    fake_project: Path, tmp_path: Path
) -> None:
    """The real startup.sh builds a venv offline from a hand-made wheel; it is measured."""
    wheelhouse = tmp_path / "wheelhouse"
    wheel = make_wheel(wheelhouse / "tools", "olist_fake_dbt", "0.1", {"olist_fake_dbt.py": ""})
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr(
            "olist_fake_dbt-0.1.dist-info/entry_points.txt",
            "[console_scripts]\ndbt = olist_fake_dbt:main\n",
        )
    tools = fake_project / TOOLS_REQUIREMENTS
    tools.write_text("olist-fake-dbt==0.1\n")
    out = tmp_path / "bundle"
    out.mkdir()
    bundle = build_bundle(fake_project, out, bucket="olist-b", wheelhouse=wheelhouse)
    measured = measure_startup(
        bundle.plugins.path,
        bundle.startup.path,
        python=sys.executable,
        workdir=tmp_path / "measure",
        tools_requirements=tools,
    )
    assert measured.python == platform.python_version()
    assert 0 < measured.seconds < STARTUP_LIMIT_SECONDS
    assert measured.venv_bytes > 0 and measured.venv_files > 0
    assert measured.tools_wheels == 1
    assert measured.plugins_zip_bytes == bundle.plugins.size
    assert measured.tools_requirements_sha256 == sha256_of(tools)
    record = tmp_path / "record.json"
    save(measured, record)
    assert load(record) == measured


def test_recorded_measurement_is_on_python_312_and_within_the_limits() -> None:
    """The committed figures (deploy/README.md quotes them) come from MWAA's Python minor."""
    measured = load(MEASUREMENT_FILE)
    assert measured is not None, "run `python -m deploy.deploy ... --measure-startup`"
    assert measured.python.startswith("3.12.")
    assert measured.tools_wheels > 10, "measured without the real wheelhouse"
    assert not measured.over_limits

"""What ships to MWAA: the bundle of files one deploy uploads, built locally.

Only what runs on MWAA is shipped:

* ``dags/``: the DAG files, plus (because MWAA puts the dags folder on ``sys.path`` and each
  layer's dbt build reads the project from the worker's local copy of it)
  ``dags/include/olist_risk/`` (the runtime package, with its Soda contracts) and
  ``dags/dbt_project/`` (the dbt project with its parsed manifest / partial-parse state);
* ``plugins.zip``: Airflow plugins and the wheels (``wheelhouse/tools`` for the dbt + Soda
  venv, ``wheelhouse/airflow`` for Airflow's side), since private workers have no egress;
* ``requirements.txt`` and ``startup.sh``.

Local tooling (``dev/``: the Airflow supervisor, ``local_run``, the data generator),
``tests/``, ``benchmarks/`` and lint configuration are never shipped: they are not collected,
and a shipped module that imports one of them fails the build (it would fail on MWAA).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from deploy.errors import DeployError
from deploy.keys import (
    AIRFLOW_WHEELS,
    DAGS_PREFIX,
    LAKE_PREFIX,
    LANDING_PREFIX,
    MWAA_DIR,
    MWAA_PLUGINS_DIR,
    PLUGINS_KEY,
    REQUIREMENTS_KEY,
    STARTUP_KEY,
    TOOLS_REQUIREMENTS,
    TOOLS_WHEELS,
    WHEELHOUSE_IN_ZIP,
)

TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
}
# The runtime package: the one thing under include/ that ships (plus include/__init__.py).
RUNTIME_PACKAGE = "olist_risk"
# Top-level modules of the repository that exist for development only; no shipped module may
# import them (tests/deploy checks the list against the repository).
DEV_ONLY_PACKAGES = frozenset({"dev", "tests", "benchmarks", "deploy"})
# Development files inside shipped folders: lint configuration and docs nobody reads on MWAA.
_DEV_FILES = {".sqlfluff", ".sqlfluffignore", "README.md"}
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# MWAA refuses a plugins.zip of 1 GB or more (its quotas page); the wheels are most of it.
PLUGINS_ZIP_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class Artifact:
    """One file to upload: the local file and the key it lands under in the bucket."""

    key: str
    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class Bundle:
    """Everything one deploy uploads, built into a temporary directory."""

    dag_files: list[Artifact]
    plugins: Artifact
    requirements: Artifact
    startup: Artifact
    notes: list[str] = field(default_factory=list)

    @property
    def versioned(self) -> list[Artifact]:
        """The three objects MWAA pins by version."""
        return [self.plugins, self.requirements, self.startup]

    @property
    def all(self) -> list[Artifact]:
        return [*self.dag_files, *self.versioned]

    def top_level(self) -> dict[str, list[str]]:
        """The first level of what ships: under dags/, inside plugins.zip, and the files."""
        dags = sorted({a.key.split("/")[1] for a in self.dag_files})
        with zipfile.ZipFile(self.plugins.path) as archive:
            plugins = sorted({name.split("/")[0] for name in archive.namelist()})
        return {
            f"{DAGS_PREFIX}/": dags,
            PLUGINS_KEY: plugins,
            "files": [a.key for a in self.versioned],
        }


# --------------------------------------------------------------------------- collecting


def _skipped(rel: Path) -> bool:
    return (
        any(part in _SKIP_PARTS for part in rel.parts)
        or rel.suffix == ".pyc"
        or rel.name in _DEV_FILES
    )


def _files_under(root: Path) -> list[Path]:
    """All files below root, sorted, without caches, so the upload set is deterministic."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not _skipped(p.relative_to(root)))


def _dbt_project_files(dbt_dir: Path) -> list[Path]:
    """The dbt project minus build output; its parsed state in target/ is kept.

    manifest.json and partial_parse.msgpack let dbt on the workers skip parsing the project
    (when the workers' profile values match the ones it was parsed with)."""
    dropped_dirs = {"target", "logs", "dbt_packages"}
    keep = []
    for path in _files_under(dbt_dir):
        rel = path.relative_to(dbt_dir)
        if rel.parts[0] in dropped_dirs or rel.name == ".user.yml":
            continue
        if path.suffix in {".duckdb", ".wal"}:
            continue
        keep.append(path)
    for parsed in ("manifest.json", "partial_parse.msgpack"):
        if (dbt_dir / "target" / parsed).is_file():
            keep.append(dbt_dir / "target" / parsed)
    return keep


def ensure_manifest(dbt_dir: Path, *, dry_run: bool = False) -> list[str]:
    """Make sure target/manifest.json exists: the dbt builds on MWAA start from it.

    MWAA's Airflow environment has no dbt, so the manifest must be built here. It is parsed
    with the dbt next to this interpreter only when missing; returns notes for the plan.
    """
    manifest = dbt_dir / "target" / "manifest.json"
    if manifest.is_file():
        newest = max((p.stat().st_mtime for p in _dbt_project_files(dbt_dir)), default=0.0)
        if newest > manifest.stat().st_mtime:
            return [f"warning: {manifest} is older than project files; run `dbt parse`"]
        return []
    dbt = Path(sys.executable).parent / "dbt"
    if dry_run:
        return [f"would run: {dbt} parse (missing {manifest})"]
    if not dbt.exists():
        raise DeployError(
            f"{manifest} is missing and no dbt next to {sys.executable}: run `dbt parse` "
            f"in {dbt_dir} first"
        )
    cmd = [str(dbt), "parse", "--project-dir", str(dbt_dir)]
    if (dbt_dir / "profiles.yml").is_file():
        cmd += ["--profiles-dir", str(dbt_dir)]
    env = {**os.environ, **TELEMETRY_OFF}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not manifest.is_file():
        raise DeployError(f"`dbt parse` failed:\n{result.stdout}\n{result.stderr}")
    return [f"ran: dbt parse -> {manifest}"]


def _airflowignore(dags_dir: Path, dest: Path) -> Path:
    """The dags folder's .airflowignore plus include/ and dbt_project/.

    Both ride inside the dags prefix on MWAA; ignoring them keeps the DAG processor from
    scanning hundreds of non-DAG files (imports from include/ are unaffected).
    """
    source = dags_dir / ".airflowignore"
    lines = source.read_text().splitlines() if source.is_file() else []
    for needed in ("include/", "dbt_project/"):
        if needed not in (line.strip() for line in lines):
            lines.append(needed)
    dest.write_text("\n".join(lines) + "\n")
    return dest


def _runtime_files(include_dir: Path) -> list[Path]:
    """include/__init__.py and the runtime package; anything else under include/ stays home."""
    files = [include_dir / "__init__.py"] if (include_dir / "__init__.py").is_file() else []
    return files + _files_under(include_dir / RUNTIME_PACKAGE)


def collect_dag_files(project_root: Path, workdir: Path) -> list[Artifact]:
    """The dags prefix: dags/, the runtime package under dags/include/, the dbt project."""
    dags_dir = project_root / "dags"
    artifacts = [
        Artifact(f"{DAGS_PREFIX}/{p.relative_to(dags_dir).as_posix()}", p)
        for p in _files_under(dags_dir)
        if p.name != ".airflowignore"
    ]
    include_dir = project_root / "include"
    artifacts += [
        Artifact(f"{DAGS_PREFIX}/include/{p.relative_to(include_dir).as_posix()}", p)
        for p in _runtime_files(include_dir)
    ]
    dbt_dir = project_root / "dbt_project"
    artifacts += [
        Artifact(f"{DAGS_PREFIX}/dbt_project/{p.relative_to(dbt_dir).as_posix()}", p)
        for p in _dbt_project_files(dbt_dir)
    ]
    ignore = _airflowignore(dags_dir, workdir / ".airflowignore")
    artifacts.append(Artifact(f"{DAGS_PREFIX}/.airflowignore", ignore))
    return sorted(artifacts, key=lambda a: a.key)


def dev_imports(artifacts: list[Artifact]) -> list[str]:
    """`key: module` for every shipped Python file importing development-only code.

    On MWAA those imports fail (dev/ and tests/ are not shipped), so they fail the build here.
    """
    found = []
    for artifact in artifacts:
        if not artifact.key.endswith(".py"):
            continue
        tree = ast.parse(artifact.path.read_bytes(), filename=str(artifact.path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{artifact.key}: {name}"
                for name in names
                if name.split(".")[0] in DEV_ONLY_PACKAGES
            ]
    return found


# ----------------------------------------------------------------------------- building


def _zip_write(archive: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    """Fixed timestamps and modes: the same inputs give the same bytes (and no new version)."""
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def wheels(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.whl")) if directory.is_dir() else []


def build_plugins_zip(
    plugins_dir: Path, wheelhouse: Path | None, tools_requirements: Path, dest: Path
) -> Path:
    """plugins.zip: Airflow plugins at the root, wheels under wheelhouse/{tools,airflow}/.

    startup.sh installs wheelhouse/tools/requirements.txt from wheelhouse/tools with
    --no-index, so workers without egress can still build the dbt/Soda venv.
    """
    entries: dict[str, bytes] = {}
    for path in _files_under(plugins_dir):
        entries[path.relative_to(plugins_dir).as_posix()] = path.read_bytes()
    tools_dir = f"{WHEELHOUSE_IN_ZIP}/{TOOLS_WHEELS}"
    entries[f"{tools_dir}/requirements.txt"] = tools_requirements.read_bytes()
    if wheelhouse is not None:
        for sub in (TOOLS_WHEELS, AIRFLOW_WHEELS):
            for wheel in wheels(wheelhouse / sub):
                entries[f"{WHEELHOUSE_IN_ZIP}/{sub}/{wheel.name}"] = wheel.read_bytes()
    with zipfile.ZipFile(dest, "w") as archive:
        for name in sorted(entries):
            _zip_write(archive, name, entries[name])
    return dest


def render_requirements(source: Path, dest: Path, *, offline: bool) -> Path:
    """The uploaded requirements.txt; offline means install only from plugins.zip wheels."""
    text = source.read_text()
    if offline:
        header = (
            "# Installed from the wheels deploy.py shipped in plugins.zip (no egress needed).\n"
            "--no-index\n"
            f"--find-links {MWAA_PLUGINS_DIR}/{WHEELHOUSE_IN_ZIP}/{AIRFLOW_WHEELS}\n"
        )
        text = header + text
    dest.write_text(text)
    return dest


def render_startup(source: Path, dest: Path, *, lake_uri: str, landing_uri: str) -> Path:
    """startup.sh with this deployment's lake and landing URIs filled in."""
    text = source.read_text()
    text = text.replace("@OLIST_LAKE_URI@", lake_uri).replace("@OLIST_LANDING_URI@", landing_uri)
    if re.search(r"@OLIST_[A-Z_]+@", text):
        raise DeployError(f"unfilled placeholder left in {source}")
    dest.write_text(text)
    return dest


def build_bundle(
    project_root: Path,
    workdir: Path,
    *,
    bucket: str,
    wheelhouse: Path | None,
    lake_uri: str | None = None,
    mwaa_dir: Path = MWAA_DIR,
    dry_run: bool = False,
) -> Bundle:
    """Build every artifact into workdir; nothing leaves the machine here."""
    notes = ensure_manifest(project_root / "dbt_project", dry_run=dry_run)
    if wheelhouse is not None and not wheels(wheelhouse / TOOLS_WHEELS):
        raise DeployError(
            f"{wheelhouse}/{TOOLS_WHEELS} holds no wheels: startup.sh could not build the "
            "dbt/Soda venv (drop --wheelhouse to build one, which needs registry access)"
        )
    if wheelhouse is None:
        notes.append("no wheelhouse: plugins.zip carries no wheels (dry run)")
    offline = wheelhouse is not None and bool(wheels(wheelhouse / AIRFLOW_WHEELS))
    if not offline:
        notes.append("requirements.txt installs from PyPI: the environment needs internet egress")
    dag_files = collect_dag_files(project_root, workdir)
    bad = dev_imports(dag_files)
    if bad:
        raise DeployError(
            "shipped code imports development-only modules (not on MWAA): " + "; ".join(bad)
        )
    lake = lake_uri or f"s3://{bucket}/{LAKE_PREFIX}"
    landing = f"s3://{bucket}/{LANDING_PREFIX}"
    plugins = build_plugins_zip(
        project_root / "plugins",
        wheelhouse,
        project_root / TOOLS_REQUIREMENTS,
        workdir / PLUGINS_KEY,
    )
    if plugins.stat().st_size >= PLUGINS_ZIP_LIMIT:
        raise DeployError(f"plugins.zip is {plugins.stat().st_size:,d} B: MWAA's limit is 1 GB")
    requirements = render_requirements(
        mwaa_dir / "requirements.txt", workdir / REQUIREMENTS_KEY, offline=offline
    )
    startup = render_startup(
        mwaa_dir / "startup.sh", workdir / STARTUP_KEY, lake_uri=lake, landing_uri=landing
    )
    return Bundle(
        dag_files=dag_files,
        plugins=Artifact(PLUGINS_KEY, plugins),
        requirements=Artifact(REQUIREMENTS_KEY, requirements),
        startup=Artifact(STARTUP_KEY, startup),
        notes=notes,
    )

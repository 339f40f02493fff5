"""Package the project for Amazon MWAA, upload it by object version and point the environment at it.

    python -m deploy.deploy --bucket B --environment ENV [--region R] [--endpoint-url URL]
                            [--dry-run] [--wheelhouse DIR] [--skip-update]

Why it is shaped like this:

* MWAA workers share no disk and (in private subnets) have no internet egress, so everything a
  task needs is shipped through the bucket: the dags folder (with ``include/`` and the dbt
  project inside it, because MWAA puts the dags folder on ``sys.path`` and each layer's dbt
  build reads the project from the worker's local copy), ``plugins.zip`` (Airflow plugins
  plus the wheels), ``requirements.txt`` and ``startup.sh``.
* MWAA pins requirements, plugins and the startup script by S3 object version, so the bucket
  must be versioned and the environment is updated to exactly the versions just uploaded.
  Unchanged files are not re-uploaded (their SHA-256 is stored as object metadata) and the
  environment is not updated when it already runs those versions: an MWAA update restarts
  every component and takes 20-30 minutes, while dags/ changes are picked up without one.
* dbt and Soda cannot be installed in MWAA's Airflow environment (its constraints pin
  pathspec and requests beyond what dbt-core 1.11 and soda-core 4.28 accept), so startup.sh
  builds a separate virtualenv from wheels in ``plugins.zip``; this command builds that
  wheelhouse with uv (resolve) and pip (download for Python 3.12 manylinux), or takes a
  prepared one (``--wheelhouse DIR``) so CI never downloads wheels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MWAA_DIR = Path(__file__).resolve().parent / "mwaa"
# The dbt + Soda venv: the same pins as the Astro image's tools venv.
TOOLS_REQUIREMENTS = Path("requirements") / "tools.txt"

DAGS_PREFIX = "dags"
PLUGINS_KEY = "plugins.zip"
REQUIREMENTS_KEY = "requirements.txt"
STARTUP_KEY = "startup.sh"
LAKE_PREFIX = "lake"
LANDING_PREFIX = "landing"

# Where MWAA extracts plugins.zip on every component.
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins"
WHEELHOUSE_IN_ZIP = "wheelhouse"
TOOLS_WHEELS = "tools"
AIRFLOW_WHEELS = "airflow"

PYTHON_VERSION = "3.12"
UV_PLATFORM = "x86_64-manylinux_2_28"
# pip does not expand manylinux_2_x tags downwards (only manylinux2014 -> 2010 -> 1), so list
# every glibc level up to the one resolved for; MWAA 3.x runs Amazon Linux 2023 (glibc 2.34).
PIP_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)),
    "manylinux2014_x86_64",
)
AIRFLOW_CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
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
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
}
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

Runner = Callable[[Sequence[str]], None]


class DeployError(RuntimeError):
    """A deploy precondition failed; the message says what to do about it."""


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


# --------------------------------------------------------------------------- building


def _run(cmd: Sequence[str]) -> None:
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


def _skipped(rel: Path) -> bool:
    return any(part in _SKIP_PARTS for part in rel.parts) or rel.suffix == ".pyc"


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


def collect_dag_files(project_root: Path, workdir: Path) -> list[Artifact]:
    """The dags prefix: dags/, include/ as dags/include/, the dbt project as dags/dbt_project/."""
    dags_dir = project_root / "dags"
    artifacts = [
        Artifact(f"{DAGS_PREFIX}/{p.relative_to(dags_dir).as_posix()}", p)
        for p in _files_under(dags_dir)
        if p.name != ".airflowignore"
    ]
    include_dir = project_root / "include"
    artifacts += [
        Artifact(f"{DAGS_PREFIX}/include/{p.relative_to(include_dir).as_posix()}", p)
        for p in _files_under(include_dir)
    ]
    dbt_dir = project_root / "dbt_project"
    artifacts += [
        Artifact(f"{DAGS_PREFIX}/dbt_project/{p.relative_to(dbt_dir).as_posix()}", p)
        for p in _dbt_project_files(dbt_dir)
    ]
    ignore = _airflowignore(dags_dir, workdir / ".airflowignore")
    artifacts.append(Artifact(f"{DAGS_PREFIX}/.airflowignore", ignore))
    return sorted(artifacts, key=lambda a: a.key)


def _zip_write(archive: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    """Fixed timestamps and modes: the same inputs give the same bytes (and no new version)."""
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _wheels(directory: Path) -> list[Path]:
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
            for wheel in _wheels(wheelhouse / sub):
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
    if wheelhouse is not None and not _wheels(wheelhouse / TOOLS_WHEELS):
        raise DeployError(
            f"{wheelhouse}/{TOOLS_WHEELS} holds no wheels: startup.sh could not build the "
            "dbt/Soda venv (drop --wheelhouse to build one, which needs registry access)"
        )
    if wheelhouse is None:
        notes.append("no wheelhouse: plugins.zip carries no wheels (dry run)")
    offline = wheelhouse is not None and bool(_wheels(wheelhouse / AIRFLOW_WHEELS))
    if not offline:
        notes.append("requirements.txt installs from PyPI: the environment needs internet egress")
    lake = lake_uri or f"s3://{bucket}/{LAKE_PREFIX}"
    landing = f"s3://{bucket}/{LANDING_PREFIX}"
    plugins = build_plugins_zip(
        project_root / "plugins",
        wheelhouse,
        project_root / TOOLS_REQUIREMENTS,
        workdir / PLUGINS_KEY,
    )
    requirements = render_requirements(
        mwaa_dir / "requirements.txt", workdir / REQUIREMENTS_KEY, offline=offline
    )
    startup = render_startup(
        mwaa_dir / "startup.sh", workdir / STARTUP_KEY, lake_uri=lake, landing_uri=landing
    )
    return Bundle(
        dag_files=collect_dag_files(project_root, workdir),
        plugins=Artifact(PLUGINS_KEY, plugins),
        requirements=Artifact(REQUIREMENTS_KEY, requirements),
        startup=Artifact(STARTUP_KEY, startup),
        notes=notes,
    )


# ------------------------------------------------------------------------- wheelhouse


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
    run: Runner,
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    lock = dest / "requirements.lock.txt"
    compile_cmd, download_cmd = wheelhouse_commands(requirements, lock, dest, constraints)
    run(compile_cmd)
    skipped = set(skip)
    pins = [f"{n}=={v}" for n, v in _pinned(lock.read_text()) if n not in skipped]
    lock.with_suffix(".download.txt").write_text("\n".join(pins) + "\n")
    run(download_cmd)


def build_wheelhouse(
    dest: Path,
    *,
    mwaa_dir: Path = MWAA_DIR,
    constraints: str = AIRFLOW_CONSTRAINTS_URL,
    run: Runner = _run,
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


# ---------------------------------------------------------------------------- upload


def ensure_versioned(s3: Any, bucket: str) -> None:
    """MWAA refers to plugins/requirements/startup by object version: no versioning, no deploy."""
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise DeployError(
            f"bucket {bucket} has versioning {status or 'never enabled'}; MWAA needs object "
            "versions: enable it (deploy/cloudformation/mwaa.yaml does)"
        )


def _current(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def upload_artifact(s3: Any, bucket: str, artifact: Artifact) -> tuple[str, bool]:
    """Put one object unless the latest version has the same SHA-256; return (version, sent)."""
    digest = artifact.sha256
    head = _current(s3, bucket, artifact.key)
    if head is not None and head.get("Metadata", {}).get("sha256") == digest:
        return head["VersionId"], False
    with artifact.path.open("rb") as body:
        response = s3.put_object(
            Bucket=bucket, Key=artifact.key, Body=body, Metadata={"sha256": digest}
        )
    version = response.get("VersionId")
    if not version:
        raise DeployError(f"no VersionId for s3://{bucket}/{artifact.key}: is versioning on?")
    return version, True


def stale_dag_keys(s3: Any, bucket: str, keep: set[str]) -> list[str]:
    """Keys under dags/ that this deploy no longer ships (a deleted DAG must stop running)."""
    paginator = s3.get_paginator("list_objects_v2")
    stale = []
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{DAGS_PREFIX}/"):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in keep]
    return stale


def upload_bundle(s3: Any, bucket: str, bundle: Bundle) -> dict[str, str]:
    """Upload everything, delete stale DAG files (recoverable: the bucket is versioned).

    Returns key -> VersionId for every shipped object.
    """
    ensure_versioned(s3, bucket)
    versions: dict[str, str] = {}
    for artifact in bundle.all:
        versions[artifact.key], sent = upload_artifact(s3, bucket, artifact)
        state = "uploaded" if sent else "unchanged"
        print(f"{state:9} s3://{bucket}/{artifact.key} {versions[artifact.key]}")
    stale = stale_dag_keys(s3, bucket, {a.key for a in bundle.dag_files})
    for start in range(0, len(stale), 1000):
        batch = [{"Key": key} for key in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    for key in stale:
        print(f"deleted   s3://{bucket}/{key}")
    return versions


# ------------------------------------------------------------------------------ MWAA


def update_request(environment: str, versions: dict[str, str]) -> dict[str, str]:
    """The update_environment arguments pinning the three versioned objects."""
    return {
        "Name": environment,
        "DagS3Path": DAGS_PREFIX,
        "PluginsS3Path": PLUGINS_KEY,
        "PluginsS3ObjectVersion": versions[PLUGINS_KEY],
        "RequirementsS3Path": REQUIREMENTS_KEY,
        "RequirementsS3ObjectVersion": versions[REQUIREMENTS_KEY],
        "StartupScriptS3Path": STARTUP_KEY,
        "StartupScriptS3ObjectVersion": versions[STARTUP_KEY],
    }


def apply_update(mwaa: Any, request: dict[str, str]) -> str | None:
    """Point the environment at the new versions; None when it already runs them.

    MWAA rejects an update while another is in progress, so check the status first and say
    so plainly instead of surfacing a ValidationException.
    """
    env = mwaa.get_environment(Name=request["Name"])["Environment"]
    status = env.get("Status")
    if status not in {"AVAILABLE", "UPDATE_FAILED"}:
        raise DeployError(
            f"environment {request['Name']} is {status}; wait until it is AVAILABLE and re-run"
        )
    if all(env.get(key) == value for key, value in request.items() if key != "Name"):
        return None
    return mwaa.update_environment(**request)["Arn"]


# ------------------------------------------------------------------------------- CLI


def format_plan(bundle: Bundle, bucket: str, environment: str, *, skip_update: bool) -> str:
    """What a deploy would do: files, sizes, target keys and the update_environment call."""
    lines = [f"Deploy plan for MWAA environment {environment!r}, bucket s3://{bucket}"]
    lines += [f"  note: {note}" for note in bundle.notes]
    total = 0
    for artifact in bundle.all:
        total += artifact.size
        lines.append(f"  put {artifact.size:>12,d} B  s3://{bucket}/{artifact.key}")
    lines.append(f"  total {total:,d} B in {len(bundle.all)} objects")
    lines.append(f"  then delete keys under s3://{bucket}/{DAGS_PREFIX}/ not listed above")
    if skip_update:
        lines.append("  no update_environment call (--skip-update)")
    else:
        pending = {a.key: f"<VersionId of {a.key} after upload>" for a in bundle.versioned}
        request = update_request(environment, pending)
        lines.append("  mwaa.update_environment(**" + json.dumps(request, indent=4) + ")")
        lines.append("  (skipped when the environment already runs those versions)")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bucket", required=True, help="the environment's source bucket")
    parser.add_argument("--environment", required=True, help="MWAA environment name")
    parser.add_argument("--region", default=None, help="AWS region (default: AWS config)")
    parser.add_argument("--endpoint-url", default=None, help="S3 endpoint (e.g. a moto server)")
    parser.add_argument("--mwaa-endpoint-url", default=None, help="MWAA API endpoint override")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=None,
        help="prepared wheels (DIR/tools/*.whl, optional DIR/airflow/*.whl) instead of "
        "downloading them",
    )
    parser.add_argument(
        "--constraints",
        default=AIRFLOW_CONSTRAINTS_URL,
        help="constraints the Airflow-side wheels are resolved under",
    )
    parser.add_argument("--lake-uri", default=None, help="default: s3://BUCKET/lake")
    parser.add_argument(
        "--skip-update",
        action="store_true",
        help="upload only and print the versions (first deploy, before the environment exists)",
    )
    parser.add_argument("--project-root", type=Path, default=PROJECT_ROOT)
    return parser


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    import boto3

    session = boto3.session.Session(region_name=args.region)
    s3 = session.client("s3", endpoint_url=args.endpoint_url)
    mwaa = session.client("mwaa", endpoint_url=args.mwaa_endpoint_url)
    return s3, mwaa


def deploy(
    args: argparse.Namespace, s3: Any = None, mwaa: Any = None, run: Runner = _run
) -> dict[str, str]:
    """Build, then (unless --dry-run) upload and update; clients are injectable for tests."""
    with tempfile.TemporaryDirectory(prefix="olist-mwaa-") as tmp:
        workdir = Path(tmp)
        wheelhouse = args.wheelhouse
        if wheelhouse is None and not args.dry_run:
            wheelhouse = build_wheelhouse(
                workdir / "wheelhouse", constraints=args.constraints, run=run
            )
        elif wheelhouse is None:
            compile_cmd, download_cmd = wheelhouse_commands(
                PROJECT_ROOT / TOOLS_REQUIREMENTS,
                workdir / "tools.lock.txt",
                workdir / "wheelhouse" / TOOLS_WHEELS,
            )
            print("would build the wheelhouse with (and likewise for airflow/):")
            print("  " + " ".join(compile_cmd) + "\n  " + " ".join(download_cmd))
        bundle_dir = workdir / "bundle"
        bundle_dir.mkdir()
        bundle = build_bundle(
            args.project_root,
            bundle_dir,
            bucket=args.bucket,
            wheelhouse=wheelhouse,
            lake_uri=args.lake_uri,
            dry_run=args.dry_run,
        )
        print(format_plan(bundle, args.bucket, args.environment, skip_update=args.skip_update))
        if args.dry_run:
            return {}
        if s3 is None or mwaa is None:
            s3, mwaa = _clients(args)
        versions = upload_bundle(s3, args.bucket, bundle)
        request = update_request(args.environment, versions)
        if args.skip_update:
            print("CloudFormation parameters for these versions:")
            for key in ("Plugins", "Requirements", "StartupScript"):
                print(f"  {key}S3ObjectVersion={request[f'{key}S3ObjectVersion']}")
            return versions
        arn = apply_update(mwaa, request)
        print(f"update_environment started for {arn}" if arn else "environment already current")
        return versions


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        deploy(args)
    except DeployError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

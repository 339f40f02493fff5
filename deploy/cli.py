"""The deploy command: build the bundle, upload it by version, update the environment.

    python -m deploy.deploy --bucket B --environment ENV [--stack NAME] [--parameter K=V ...]
                            [--region R] [--endpoint-url URL] [--dry-run]
                            [--wheelhouse DIR] [--skip-update] [--measure-startup]

Why it is shaped like this:

* MWAA workers share no disk and (in private subnets) have no internet egress, so everything a
  task needs is shipped through the bucket (deploy/bundle.py says what ships, and why only
  that), including every wheel (deploy/wheelhouse.py).
* MWAA pins requirements, plugins and the startup script by S3 object version, so the bucket
  must be versioned and the environment is updated to exactly the versions just uploaded
  (deploy/upload.py). Unchanged files are not re-uploaded and the environment is not updated
  when it already runs those versions: an update restarts every component (20-30 minutes).
* The environment is updated either through its CloudFormation stack (``--stack``:
  deploy/stack.py; creates the stack first if needed, and keeps its version parameters
  current) or directly with ``update_environment`` (deploy/environment.py).
* ``--dry-run`` builds everything locally, prints what ships (paths and sizes) and the stack
  parameters or MWAA request it would send, and touches nothing in AWS.
* startup.sh and plugins.zip must stay within MWAA's limits (5 minutes, 1 GB): the plan prints
  the last measurement of both (deploy/startup_limits.py); ``--measure-startup`` builds the
  wheelhouse (even with ``--dry-run``) and re-measures on a clean Python 3.12 first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deploy.bundle import DEV_ONLY_PACKAGES, PLUGINS_ZIP_LIMIT, Bundle, build_bundle
from deploy.environment import apply_update, update_request
from deploy.errors import DeployError
from deploy.keys import (
    DAGS_PREFIX,
    MWAA_CONSTRAINTS,
    PROJECT_ROOT,
    TOOLS_REQUIREMENTS,
    TOOLS_WHEELS,
    VERSIONED_KEYS,
    WHEELHOUSE_IN_ZIP,
)
from deploy.stack import (
    VERSION_PARAMETERS,
    base_parameters,
    ensure_stack,
    environment_parameters,
    load_template,
    parse_overrides,
    template_body,
    update_stack,
)
from deploy.startup_limits import (
    MEASUREMENT_FILE,
    STARTUP_LIMIT_SECONDS,
    StartupMeasurement,
    describe,
    load,
    measure_startup,
    python_312,
    save,
    sha256_of,
)
from deploy.upload import upload_bundle
from deploy.wheelhouse import (
    Runner,
    build_wheelhouse,
    run,
    wheelhouse_commands,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bucket", required=True, help="the environment's source bucket")
    parser.add_argument("--environment", required=True, help="MWAA environment name")
    parser.add_argument(
        "--stack",
        default=None,
        help="deploy through this CloudFormation stack (created if missing) instead of "
        "calling update_environment",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a stack parameter (repeatable), e.g. Network=private-nat or KmsKey=create",
    )
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
        default=str(MWAA_CONSTRAINTS),
        help="constraints the Airflow-side wheels are resolved under",
    )
    parser.add_argument("--lake-uri", default=None, help="default: s3://BUCKET/lake")
    parser.add_argument(
        "--skip-update",
        action="store_true",
        help="upload only and print the versions (first deploy, before the environment exists)",
    )
    parser.add_argument("--project-root", type=Path, default=PROJECT_ROOT)
    parser.add_argument(
        "--measure-startup",
        action="store_true",
        help="run startup.sh from the built plugins.zip on a clean Python 3.12 and record its "
        "time and venv size (a few minutes; builds the wheelhouse if none is given)",
    )
    parser.add_argument(
        "--startup-python", default=None, help="the Python 3.12 to measure with (python3.12)"
    )
    parser.add_argument(
        "--startup-record",
        type=Path,
        default=MEASUREMENT_FILE,
        help="where the last startup measurement is kept",
    )
    return parser


# --------------------------------------------------------------------------------- plan


def _size(n: int) -> str:
    return f"{n:>12,d} B"


def describe_bundle(bundle: Bundle, bucket: str, project_root: Path) -> list[str]:
    """What ships, top level first, then every object with its size."""
    lines = ["  what ships (top level):"]
    for where, names in bundle.top_level().items():
        lines.append(f"    {where:<12} {', '.join(names)}")
    present = sorted(p for p in DEV_ONLY_PACKAGES if (project_root / p).is_dir())
    lines.append(f"    not shipped  {', '.join(f'{p}/' for p in present)} (tooling, not runtime)")
    groups: dict[str, list[int]] = {}
    for artifact in bundle.dag_files:
        group = "/".join(artifact.key.split("/")[:2])
        groups.setdefault(group, []).append(artifact.size)
    lines.append("  by part:")
    for group, sizes in sorted(groups.items()):
        lines.append(f"    {_size(sum(sizes))}  {group} ({len(sizes)} files)")
    with zipfile.ZipFile(bundle.plugins.path) as archive:
        inside: dict[str, list[int]] = {}
        for info in archive.infolist():
            parts = info.filename.split("/")
            group = "/".join(parts[:2]) if parts[0] == WHEELHOUSE_IN_ZIP else "plugins"
            inside.setdefault(group, []).append(info.file_size)
    for group, sizes in sorted(inside.items()):
        lines.append(f"    {_size(sum(sizes))}  plugins.zip: {group} ({len(sizes)} files)")
    share = bundle.plugins.size / PLUGINS_ZIP_LIMIT
    lines.append(f"    plugins.zip is {bundle.plugins.size:,d} B, {share:.1%} of MWAA's 1 GB limit")
    total = 0
    lines.append("  objects:")
    for artifact in bundle.all:
        total += artifact.size
        lines.append(f"    put {_size(artifact.size)}  s3://{bucket}/{artifact.key}")
    lines.append(f"  total {total:,d} B in {len(bundle.all)} objects")
    lines.append(f"  then delete keys under s3://{bucket}/{DAGS_PREFIX}/ not listed above")
    return lines


def format_plan(
    bundle: Bundle,
    bucket: str,
    environment: str,
    *,
    skip_update: bool,
    stack: str | None = None,
    parameters: dict[str, str] | None = None,
    project_root: Path = PROJECT_ROOT,
    startup: Sequence[str] = (),
) -> str:
    """What a deploy would do: files, sizes, target keys, startup limits, the stack or MWAA call."""
    lines = [f"Deploy plan for MWAA environment {environment!r}, bucket s3://{bucket}"]
    lines += [f"  note: {note}" for note in bundle.notes]
    lines += describe_bundle(bundle, bucket, project_root)
    lines += startup
    params = parameters or {"BucketName": bucket, "EnvironmentName": environment}
    pending = {key: f"<VersionId of {key} after upload>" for key in VERSIONED_KEYS}
    if stack:
        lines.append(f"  stack {stack}: if missing, create it first with parameters:")
        first = {**params, "CreateEnvironment": "false"}
        lines += [f"    {k}={v}" for k, v in sorted(first.items())]
    if skip_update:
        lines.append("  no environment update (--skip-update)")
        return "\n".join(lines)
    with_env = {**params, **environment_parameters(pending)}
    if stack:
        lines.append(f"  then update stack {stack} (others keep their previous values):")
    else:
        request = update_request(environment, pending)
        lines.append("  mwaa.update_environment(**" + json.dumps(request, indent=4) + ")")
        lines.append("  (skipped when the environment already runs those versions)")
        lines.append("  stack parameters that describe the result (aws cloudformation deploy):")
    lines += [f"    {k}={v}" for k, v in sorted(with_env.items())]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- deploy


def _startup_limits(args: argparse.Namespace, bundle: Bundle, workdir: Path) -> list[str]:
    """Measure startup.sh now (--measure-startup) or read the last record; the plan's lines."""
    tools = args.project_root / TOOLS_REQUIREMENTS
    measurement: StartupMeasurement | None
    if args.measure_startup:
        print("measuring startup.sh on a clean Python 3.12 (a few minutes)...", file=sys.stderr)
        measurement = measure_startup(
            bundle.plugins.path,
            bundle.startup.path,
            python=args.startup_python or python_312(),
            workdir=workdir / "startup",
            tools_requirements=tools,
        )
        save(measurement, args.startup_record)
    else:
        measurement = load(args.startup_record)
    lines = describe(
        measurement, tools_requirements_sha256=sha256_of(tools), fresh=args.measure_startup
    )
    # Wall time on a busy machine overstates a worker's; CPU time above the limit cannot fit.
    if (
        measurement is not None
        and args.measure_startup
        and (measurement.cpu_seconds > STARTUP_LIMIT_SECONDS)
    ):
        print("\n".join(lines))
        raise DeployError("startup.sh cannot finish within MWAA's 5 minutes")
    return lines


def _clients(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    import boto3

    session = boto3.session.Session(region_name=args.region)
    s3 = session.client("s3", endpoint_url=args.endpoint_url)
    mwaa = session.client("mwaa", endpoint_url=args.mwaa_endpoint_url)
    cfn = session.client("cloudformation")
    return s3, mwaa, cfn


def deploy(
    args: argparse.Namespace,
    s3: Any = None,
    mwaa: Any = None,
    run: Runner = run,
    cfn: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Build, then (unless --dry-run) upload and update; clients are injectable for tests."""
    declared = list(load_template()["Parameters"])
    params = base_parameters(
        args.bucket, args.environment, parse_overrides(args.parameter, declared)
    )
    with tempfile.TemporaryDirectory(prefix="olist-mwaa-") as tmp:
        workdir = Path(tmp)
        wheelhouse = args.wheelhouse
        if wheelhouse is None and (args.measure_startup or not args.dry_run):
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
        plan = format_plan(
            bundle,
            args.bucket,
            args.environment,
            skip_update=args.skip_update,
            stack=args.stack,
            parameters=params,
            project_root=args.project_root,
            startup=_startup_limits(args, bundle, workdir),
        )
        print(plan)
        if args.dry_run:
            return {}
        if s3 is None or mwaa is None or (args.stack and cfn is None):
            s3_client, mwaa_client, cfn_client = _clients(args)
            s3, mwaa, cfn = s3 or s3_client, mwaa or mwaa_client, cfn or cfn_client
        body = template_body() if args.stack else ""
        if args.stack and ensure_stack(cfn, args.stack, params, body, sleep=sleep):
            print(f"created stack {args.stack} (no environment yet)")
        versions = upload_bundle(s3, args.bucket, bundle)
        if args.skip_update:
            print("CloudFormation parameters for these versions:")
            for key, name in VERSION_PARAMETERS.items():
                print(f"  {name}={versions[key]}")
            return versions
        if args.stack:
            wanted = {**params, **environment_parameters(versions)}
            changed = update_stack(cfn, args.stack, wanted, body, declared, sleep=sleep)
            print(f"stack {args.stack} updated" if changed else "stack already current")
            return versions
        arn = apply_update(mwaa, update_request(args.environment, versions))
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

"""Run the dbt project (bronze -> silver -> gold) as a subprocess.

The orchestration calls this; nothing here imports dbt. On Amazon MWAA dbt cannot live in
Airflow's environment (conflicting pins), so it runs from its own virtualenv: pass that
`dbt` executable, or rely on the default (the `dbt` next to this interpreter).

Every invocation may start from an empty DuckDB (tasks land on different workers with no
shared disk): the dbt project reads and writes every layer as Parquet in the lake and
re-registers upstream layers at the start of each run.

    from include.olist_risk.lake.credentials import S3Credentials
    from include.olist_risk.transform.dbt_invocation import DbtInvocation, run_dbt
    invocation = DbtInvocation(lake_root="s3://lake/olist", raw_batch_id="20240101T000000",
                               snapshot_date="2018-09-01", s3=S3Credentials(...))
    run_dbt(["build", "--select", "gold"], invocation)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from include.olist_risk.config import PROJECT_ROOT
from include.olist_risk.lake.credentials import S3Credentials

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
FEATURE_STORE_MODEL = "fct_customer_return_risk_features"
_SNAPSHOT = re.compile(r"^\d{4}-\d{2}-01$")


def default_dbt_executable() -> Path:
    """The `dbt` installed next to the running interpreter."""
    return Path(sys.executable).parent / "dbt"


def duckdb_extension_dir() -> str | None:
    """Directory holding DuckDB's httpfs (PyPI `duckdb-ext-httpfs`), for offline loading.

    Asked of the environment first (`OLIST_DUCKDB_EXTENSION_DIR`), then of the `duckdb_ext`
    package if it is importable here; on MWAA it lives in the dbt virtualenv, so pass it.
    """
    if os.environ.get("OLIST_DUCKDB_EXTENSION_DIR"):
        return os.environ["OLIST_DUCKDB_EXTENSION_DIR"]
    try:
        import duckdb_ext  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(duckdb_ext.get_extension_dir())


@dataclass(frozen=True)
class DbtInvocation:
    """The explicit inputs of one dbt invocation."""

    lake_root: str
    raw_batch_id: str
    build_root: str | None = None
    snapshot_date: str | None = None
    s3: S3Credentials | None = None
    dbt_executable: Path = field(default_factory=default_dbt_executable)
    project_dir: Path = DBT_PROJECT_DIR
    duckdb_path: str = ":memory:"
    extension_dir: str | None = None
    # separate target/ and logs/ let concurrent invocations share one project checkout
    target_path: Path | None = None
    log_path: Path | None = None
    # other dbt vars, e.g. {"upstream_content_tests": False} as the orchestrated path passes
    extra_vars: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lake_root:
            raise ValueError("lake_root is required")
        if not self.raw_batch_id:
            raise ValueError("raw_batch_id is required")
        if self.snapshot_date and not _SNAPSHOT.match(self.snapshot_date):
            raise ValueError(
                f"snapshot_date must be a month start YYYY-MM-01, got {self.snapshot_date!r}"
            )

    @property
    def is_s3(self) -> bool:
        return any(
            root.startswith("s3://") for root in (self.lake_root, self.build_root or "") if root
        )

    def dbt_vars(self) -> dict[str, object]:
        values: dict[str, object] = {
            **self.extra_vars,
            "lake_root": self.lake_root.rstrip("/"),
            "raw_batch_id": self.raw_batch_id,
        }
        if self.build_root:
            values["build_root"] = self.build_root.rstrip("/")
        if self.snapshot_date:
            values["snapshot_date"] = self.snapshot_date
        return values

    def vars_arg(self) -> str:
        return json.dumps(self.dbt_vars(), sort_keys=True)

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(
            {
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DO_NOT_TRACK": "1",
                "OLIST_DBT_TARGET": "s3" if self.is_s3 else "local",
                "OLIST_DBT_DUCKDB_PATH": self.duckdb_path,
            }
        )
        if not env.get("OLIST_DUCKDB_TEMP_DIRECTORY"):
            # where DuckDB spills beyond memory_limit: one directory per invocation, so that
            # concurrent dbt processes never share temp files (DuckDB removes it at exit)
            env["OLIST_DUCKDB_TEMP_DIRECTORY"] = str(
                Path(tempfile.gettempdir()) / "olist-duckdb-spill" / uuid.uuid4().hex
            )
        extension_dir = self.extension_dir or duckdb_extension_dir()
        if extension_dir:
            env["OLIST_DUCKDB_EXTENSION_DIR"] = extension_dir
        if self.s3 is not None:
            # AWS_* always; OLIST_S3_* only for a custom endpoint (moto), otherwise the
            # profile's defaults (s3.amazonaws.com, ssl, vhost) are the right ones for AWS
            env.update(self.s3.env())
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        """dbt args, plus project/profiles dirs and --vars unless the caller gave them."""
        command = [str(self.dbt_executable), *args]
        if "--project-dir" not in args:
            command += ["--project-dir", str(self.project_dir)]
        if "--profiles-dir" not in args:
            command += ["--profiles-dir", str(self.project_dir)]
        if args and args[0] not in ("deps", "clean", "debug") and "--vars" not in args:
            command += ["--vars", self.vars_arg()]
        if self.target_path is not None and "--target-path" not in args:
            command += ["--target-path", str(self.target_path)]
        if self.log_path is not None and "--log-path" not in args:
            command += ["--log-path", str(self.log_path)]
        return command

    @property
    def run_results_path(self) -> Path:
        return (self.target_path or self.project_dir / "target") / "run_results.json"


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the command and the tail of its output."""

    def __init__(self, command: Sequence[str], returncode: int, output: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-60:])
        super().__init__(
            f"dbt failed (exit {returncode}): {' '.join(command)}\n"
            f"--- dbt output (tail) ---\n{tail}"
        )


def run_dbt(
    command: list[str],
    invocation: DbtInvocation,
    *,
    timeout: float | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> None:
    """Run `dbt <command>` for this invocation; raise DbtError with dbt's tail on failure."""
    args = invocation.command(command)
    env = invocation.env()
    if extra_env:
        env.update(extra_env)
    try:
        result = subprocess.run(
            args,
            cwd=invocation.project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise DbtError(
            args, 127, f"dbt executable not found: {invocation.dbt_executable}"
        ) from error
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or "") if isinstance(error.stdout, str) else ""
        raise DbtError(args, -1, f"{output}\ntimed out after {timeout} s") from error
    if result.returncode != 0:
        raise DbtError(args, result.returncode, result.stdout + result.stderr)

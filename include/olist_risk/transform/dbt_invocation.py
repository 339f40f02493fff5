"""Run the dbt project (bronze -> silver -> gold) as a subprocess.

The orchestration calls this; nothing here imports dbt. On Amazon MWAA dbt cannot live in
Airflow's environment (conflicting pins), so it runs from its own virtualenv: pass that
`dbt` executable, or rely on the default (the `dbt` next to this interpreter).

Every invocation may start from an empty DuckDB (tasks land on different workers with no
shared disk): the dbt project reads and writes every layer as Parquet in the lake and
re-registers upstream layers at the start of each run.

Run values (lake, batch, build roots, snapshot) reach dbt as environment variables that the
project reads only while executing, and the profile never changes between runs, so the
partial-parse state written by `make setup` (`target/partial_parse.msgpack`) stays valid:
no run re-parses the project.

    from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import WAREHOUSE_PREFIX, snapshot_date, table_key
    from include.olist_risk.transform.dbt_invocation import DbtInvocation, run_dbt
    invocation = DbtInvocation(lake_root="s3://lake/olist", raw_batch_id="20240101T000000",
                               snapshot_date="2018-09-01", s3=S3Credentials(...))
    run_dbt(["build", "--select", "gold"], invocation)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from include.olist_risk.config import PROJECT_ROOT
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import WAREHOUSE_PREFIX, snapshot_date, table_key

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
FEATURE_STORE_MODEL = "fct_customer_return_risk_features"


def default_dbt_executable() -> Path:
    """The `dbt` installed next to the running interpreter."""
    return Path(sys.executable).parent / "dbt"


def duckdb_extension_dir(dbt_executable: Path | None = None) -> str | None:
    """Directory holding DuckDB's httpfs (PyPI `duckdb-ext-httpfs`), for offline loading.

    Asked of the environment first (`OLIST_DUCKDB_EXTENSION_DIR`), then of the virtualenv the
    dbt executable lives in, then of this interpreter. It is part of dbt's profile, so every
    invocation in one environment must get the same directory, or dbt re-parses the project.
    """
    if os.environ.get("OLIST_DUCKDB_EXTENSION_DIR"):
        return os.environ["OLIST_DUCKDB_EXTENSION_DIR"]
    if dbt_executable is not None:
        venv = Path(dbt_executable).parent.parent
        found = sorted(venv.glob("lib/python*/site-packages/duckdb_ext/extensions"))
        if found:
            return str(found[-1])
    try:
        import duckdb_ext  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(duckdb_ext.get_extension_dir())


# The orchestrated path leaves the delivered data's content rules to the Soda quality gate,
# which waits for a corrected batch where a failing dbt test would fail the run.
GATED_BY_SODA = ("--exclude", "tag:upstream_content")
FULL_PARSE_MARKER = "Unable to do partial parsing"


@dataclass(frozen=True)
class DbtInvocation:
    """The explicit inputs of one dbt invocation."""

    lake_root: str
    raw_batch_id: str
    build_root: str | None = None
    snapshot_date: str | None = None
    # the models that depend only on the raw batch (everything not partitioned by snapshot),
    # when they live apart from the run's own build (see transform/batch_build.py)
    batch_build_root: str | None = None
    s3: S3Credentials | None = None
    dbt_executable: Path = field(default_factory=default_dbt_executable)
    project_dir: Path = DBT_PROJECT_DIR
    duckdb_path: str = ":memory:"
    extension_dir: str | None = None
    # separate target/ and logs/ let concurrent invocations share one project checkout
    target_path: Path | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.lake_root:
            raise ValueError("lake_root is required")
        if not self.raw_batch_id:
            raise ValueError("raw_batch_id is required")
        if self.snapshot_date:
            snapshot_date(self.snapshot_date)

    def run_values(self) -> dict[str, str]:
        """What this run builds, as the environment the dbt project reads it from."""
        lake_root = self.lake_root.rstrip("/")
        return {
            "OLIST_RAW_BATCH_ID": self.raw_batch_id,
            # the lake's layout (lake/layout.py), so dbt holds no copy of it
            "OLIST_RAW_TABLE_LOCATION": f"{lake_root}/{table_key('{table}', '{batch}')}",
            "OLIST_BUILD_ROOT": (self.build_root or f"{lake_root}/{WAREHOUSE_PREFIX}").rstrip("/"),
            "OLIST_SNAPSHOT_DATE": self.snapshot_date or "",
            "OLIST_BATCH_BUILD_ROOT": (self.batch_build_root or "").rstrip("/"),
        }

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(
            {
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DO_NOT_TRACK": "1",
                "OLIST_DBT_DUCKDB_PATH": self.duckdb_path,
                **self.run_values(),
            }
        )
        extension_dir = self.extension_dir or duckdb_extension_dir(self.dbt_executable)
        if extension_dir:
            env["OLIST_DUCKDB_EXTENSION_DIR"] = extension_dir
        if self.s3 is not None:
            # AWS_* always; OLIST_S3_* only for a custom endpoint (moto), otherwise the
            # profile's defaults (s3.amazonaws.com, ssl, vhost) are the right ones for AWS
            env.update(self.s3.env())
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        """dbt args, plus project/profiles/target/log paths unless the caller gave them."""
        command = [str(self.dbt_executable), *args]
        if "--project-dir" not in args:
            command += ["--project-dir", str(self.project_dir)]
        if "--profiles-dir" not in args:
            command += ["--profiles-dir", str(self.project_dir)]
        if self.target_path is not None and "--target-path" not in args:
            command += ["--target-path", str(self.target_path)]
        if self.log_path is not None and "--log-path" not in args:
            command += ["--log-path", str(self.log_path)]
        return command

    @property
    def run_results_path(self) -> Path:
        return (self.target_path or self.project_dir / "target") / "run_results.json"

    def seed_partial_parse(self) -> None:
        """Give a separate target path the project's parsed state, so dbt need not re-parse."""
        if self.target_path is None:
            return
        saved = self.project_dir / "target" / "partial_parse.msgpack"
        copy = self.target_path / "partial_parse.msgpack"
        if saved.exists() and not copy.exists():
            self.target_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, copy)


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


@dataclass(frozen=True)
class DbtRun:
    """What one finished dbt process reported."""

    output: str
    full_parse: bool


def run_dbt(
    command: list[str],
    invocation: DbtInvocation,
    *,
    timeout: float | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> DbtRun:
    """Run `dbt <command>`, handing each output line to `on_line` as it comes.

    Raises DbtError with dbt's tail on a non-zero exit or a timeout.
    """
    args = invocation.command(command)
    env = invocation.env()
    if extra_env:
        env.update(extra_env)
    invocation.seed_partial_parse()
    lines: list[str] = []
    try:
        process = subprocess.Popen(
            args,
            cwd=invocation.project_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except FileNotFoundError as error:
        raise DbtError(
            args, 127, f"dbt executable not found: {invocation.dbt_executable}"
        ) from error
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        timed_out.set()
        process.kill()

    watchdog = threading.Timer(timeout, kill_on_timeout) if timeout else None
    if watchdog is not None:
        watchdog.start()
    try:
        with process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if on_line is not None:
                    on_line(lines[-1])
    finally:
        if watchdog is not None:
            watchdog.cancel()
    output = "\n".join(lines)
    if timed_out.is_set():
        raise DbtError(args, -1, f"{output}\ntimed out after {timeout} s")
    if process.returncode != 0:
        raise DbtError(args, process.returncode, output)
    return DbtRun(output=output, full_parse=FULL_PARSE_MARKER in output)


def parse_project(dbt_executable: Path, project_dir: Path = DBT_PROJECT_DIR) -> DbtRun:
    """`dbt parse` in the environment every run gets, so that runs reuse its parsed state.

    The run values are placeholders: the project reads them only while executing.
    """
    invocation = DbtInvocation(
        lake_root="unused-at-parse",
        raw_batch_id="unused-at-parse",
        dbt_executable=dbt_executable,
        project_dir=project_dir,
    )
    return run_dbt(["parse", "--quiet"], invocation)


if __name__ == "__main__":
    parse_project(Path(sys.argv[1]) if len(sys.argv) > 1 else default_dbt_executable())

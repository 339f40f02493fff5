"""Settings from the environment, with defaults that make a fresh checkout run locally.

Every path can be overridden by an environment variable so that the same code runs in the
project's venv, in the Astro image and on MWAA workers (where the dags folder is elsewhere
and dbt/Soda live in a separate virtualenv).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    # absolute(), not resolve(): a venv's python is a symlink whose target is not the venv
    return Path(value).expanduser().absolute() if value else default


@dataclass(frozen=True)
class Settings:
    """Where data lives and which executables run dbt and Soda."""

    lake_uri: str
    landing_uri: str
    catalog_path: Path
    aws_conn_id: str
    dbt_project_dir: Path
    dbt_executable: Path
    tool_python: Path
    # Ingestion rules (README, "What a delivery must look like"); defaults for callers that
    # build Settings themselves.
    landing_recursive: bool = False
    max_row_shrink: float = 0.10
    max_orphan_share: float = 0.01

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_uri.startswith("s3://")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (true/false)")


def env_number(name: str, default: float, maximum: float | None = None) -> float:
    """A number >= 0 (and <= `maximum`) from the environment: a typo must not silently
    disable a gate or a retention, so anything else is an error naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0 or (maximum is not None and number > maximum):
        bounds = f"between 0 and {maximum:g}" if maximum is not None else ">= 0"
        raise ValueError(f"{name}={value!r} is not a number {bounds}")
    return number


def _env_share(name: str, default: float) -> float:
    """A fraction between 0 and 1, e.g. 0.1 for 10%."""
    return env_number(name, default, maximum=1.0)


def load_settings() -> Settings:
    """Read the settings now (not at import) so tests and tasks can change the environment."""
    data_dir = _env_path("OLIST_DATA_DIR", PROJECT_ROOT / "data")
    bin_dir = Path(sys.executable).parent
    return Settings(
        lake_uri=os.environ.get("OLIST_LAKE_URI", str(data_dir / "lake")).rstrip("/"),
        landing_uri=os.environ.get("OLIST_LANDING_URI", str(data_dir / "landing")).rstrip("/"),
        catalog_path=_env_path("OLIST_CATALOG_PATH", data_dir / "warehouse" / "olist.duckdb"),
        aws_conn_id=os.environ.get("OLIST_AWS_CONN_ID", "aws_default"),
        dbt_project_dir=_env_path("OLIST_DBT_PROJECT_DIR", PROJECT_ROOT / "dbt_project"),
        dbt_executable=_env_path("OLIST_DBT_EXECUTABLE", bin_dir / "dbt"),
        tool_python=_env_path("OLIST_TOOL_PYTHON", Path(sys.executable)),
        landing_recursive=_env_bool("OLIST_LANDING_RECURSIVE", False),
        max_row_shrink=_env_share("OLIST_MAX_ROW_SHRINK", 0.10),
        max_orphan_share=_env_share("OLIST_MAX_ORPHAN_SHARE", 0.01),
    )

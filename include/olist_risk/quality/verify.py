"""Run contracts from Airflow: Soda in the tools interpreter, reports into the lake."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from include.olist_risk.lake.catalog import catalog_views
from include.olist_risk.lake.runtime import Runtime
from include.olist_risk.transform.code_version import content_digest

CONTRACTS_DIR = Path(__file__).parent / "contracts"


class ScanError(RuntimeError):
    """Soda itself failed to run (as opposed to checks failing)."""


def contracts_for(layer: str) -> list[Path]:
    return sorted((CONTRACTS_DIR / layer).glob("*.yml"))


def contracts_digest(contracts: list[Path]) -> str:
    """12 hex of the contracts' names and contents: any edit changes it (a comment too, which
    only costs a scan)."""
    return content_digest((path.name, path) for path in sorted(contracts))


def scan(
    runtime: Runtime, build_prefixes: list[str], contracts: list[Path]
) -> list[dict[str, Any]]:
    """Verify `contracts` against the Parquet under `build_prefixes`; one result per dataset."""
    views = {
        f"{schema}.{name}": source
        for schema, tables in catalog_views(runtime.lake, build_prefixes).items()
        for name, source in tables.items()
    }
    env = {**os.environ, **(runtime.credentials.env() if runtime.credentials else {})}
    env["SODA_CORE_TELEMETRY_ENABLED"] = "false"
    with tempfile.NamedTemporaryFile("w", suffix=".json") as views_file:
        json.dump(views, views_file)
        views_file.flush()
        result = subprocess.run(
            [
                str(runtime.settings.tool_python),
                "-m",
                "include.olist_risk.quality.scan",
                "--views",
                views_file.name,
                *map(str, contracts),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[3],
        )
    if result.returncode != 0:
        raise ScanError(f"Soda scan could not run: {result.stderr.strip()[-3000:]}")
    return json.loads(result.stdout)["results"]

"""Run Soda data contracts against lake datasets; prints one JSON summary on stdout.

This module runs in the *tools* interpreter (`OLIST_TOOL_PYTHON`), beside dbt: on MWAA Soda
cannot be installed in Airflow's own environment. It only needs duckdb and soda: the
Airflow side passes the view definitions (which parquet each dataset is) and writes the
reports to the lake itself.

    python -m include.olist_risk.quality.scan --views VIEWS.json CONTRACT.yml [...]

VIEWS.json maps "schema.table" to a DuckDB `read_parquet(...)` expression. S3 credentials,
when the lake is on S3, come from the environment (AWS_* and OLIST_S3_*).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.quality.check_names import describe, threshold_text

DATA_SOURCE = "olist_lake"


def credentials_from_env() -> S3Credentials | None:
    endpoint = os.environ.get("OLIST_S3_ENDPOINT")
    if not (endpoint or os.environ.get("AWS_ACCESS_KEY_ID")):
        return None
    scheme = "https" if os.environ.get("OLIST_S3_USE_SSL", "true") == "true" else "http"
    return S3Credentials(
        access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        session_token=os.environ.get("AWS_SESSION_TOKEN"),
        region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        endpoint_url=f"{scheme}://{endpoint}" if endpoint else None,
    )


def _value(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool | None) else str(value)


def _check_dict(check_result: Any) -> dict[str, Any]:
    check = check_result.check
    return {
        "name": describe(check.name, check.type, check.column_name, check.definition or ""),
        "type": check.type,
        "column": check.column_name,
        "outcome": check_result.outcome.name.lower(),
        "value": _value(check_result.threshold_value),
        "threshold": threshold_text(check.threshold),
        "metrics": {
            name: _value(value)
            for name, value in (check_result.diagnostic_metric_values or {}).items()
        },
    }


def _rows_tested(checks: list[dict[str, Any]]) -> int | None:
    return next(
        (
            c["metrics"]["dataset_rows_tested"]
            for c in checks
            if "dataset_rows_tested" in c["metrics"]
        ),
        None,
    )


def verify(views: dict[str, str], contracts: list[Path]) -> list[dict[str, Any]]:
    from soda_core.contracts import verify_contract_locally
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    results = []
    with connect(credentials=credentials_from_env()) as con:
        for schema in sorted({name.split(".")[0] for name in views}):
            con.execute(f"create schema if not exists {schema}")
        for name, source in views.items():
            con.execute(f"create or replace view {name} as select * from {source}")
        data_source = DuckDBDataSourceImpl.from_existing_cursor(con, name=DATA_SOURCE)
        for contract in contracts:
            dataset = yaml.safe_load(contract.read_text())["dataset"]
            started = time.perf_counter()
            session = verify_contract_locally(
                data_sources=[data_source], contract_file_path=str(contract), publish=False
            )
            for result in session.contract_verification_results:
                checks = [_check_dict(check) for check in result.check_results]
                results.append(
                    {
                        "dataset": dataset,
                        "contract": contract.name,
                        "rows": _rows_tested(checks),
                        "ok": bool(result.is_ok) and not result.has_errors,
                        "errors": result.get_errors_str() if result.has_errors else "",
                        "checks": checks,
                        "seconds": round(time.perf_counter() - started, 3),
                    }
                )
            if not session.contract_verification_results:
                results.append(
                    {
                        "dataset": dataset,
                        "contract": contract.name,
                        "rows": None,
                        "ok": False,
                        "errors": session.get_errors_str() or "contract produced no result",
                        "checks": [],
                        "seconds": round(time.perf_counter() - started, 3),
                    }
                )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=Path, required=True)
    parser.add_argument("contracts", type=Path, nargs="+")
    args = parser.parse_args(argv)
    views = json.loads(args.views.read_text())
    json.dump({"results": verify(views, args.contracts)}, sys.stdout)


if __name__ == "__main__":
    main()

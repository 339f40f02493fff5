"""Helpers of the dbt tests: a lake with a raw batch, dbt invocations, reading results.

Every dbt call goes through include.olist_risk.transform.dbt_invocation (a subprocess with its
own target and log paths, :memory: DuckDB unless a test says otherwise), exactly like the DAGs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.storage import LocalLake
from include.olist_risk.transform.dbt_invocation import FEATURE_STORE_MODEL, DbtInvocation, run_dbt

GENERATED_SCALE = 0.03


@dataclass
class Lake:
    """A lake root with a raw batch, the CSVs it came from and a dbt build root."""

    csv_dir: Path
    lake_root: str
    batch_id: str
    work_dir: Path
    build_root: str | None = None

    @property
    def warehouse(self) -> str:
        return self.build_root or f"{self.lake_root}/warehouse"

    def invocation(self, snapshot_date: str | None = None, **kwargs) -> DbtInvocation:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return DbtInvocation(
            lake_root=self.lake_root,
            raw_batch_id=self.batch_id,
            build_root=self.build_root,
            snapshot_date=snapshot_date,
            target_path=self.work_dir / "target",
            log_path=self.work_dir / "logs",
            **kwargs,
        )

    def dbt(
        self,
        *args: str,
        snapshot_date: str | None = None,
        extra_env: dict[str, str] | None = None,
        **kwargs,
    ) -> None:
        run_dbt(
            list(args), self.invocation(snapshot_date, **kwargs), extra_env=extra_env, timeout=600
        )


def spill_root(lake: Lake) -> Path:
    """Where a session lake's dbt processes were told to spill (conftest.py)."""
    return lake.csv_dir.parent / "spill"


def read_features(
    warehouse: str,
    snapshot: date | None = None,
    model: str = FEATURE_STORE_MODEL,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[tuple, dict]:
    """Rows of the feature store keyed by (customer_unique_id, snapshot_date)."""
    con = con or duckdb.connect()
    where = f"where snapshot_date = date '{snapshot}'" if snapshot else ""
    relation = con.sql(
        f"select * from read_parquet('{warehouse}/gold/{model}/*/*.parquet', "
        f"hive_partitioning = true) {where}"
    )
    columns = relation.columns
    return {
        (row[columns.index("customer_unique_id")], row[columns.index("snapshot_date")]): dict(
            zip(columns, row, strict=True)
        )
        for row in relation.fetchall()
    }


def snapshots_of(warehouse: str) -> list[date]:
    return [
        row[0]
        for row in duckdb.sql(
            f"select distinct snapshot_date from read_parquet("
            f"'{warehouse}/gold/{FEATURE_STORE_MODEL}/*/*.parquet', hive_partitioning = true) "
            f"order by 1"
        ).fetchall()
    ]


def make_lake(root: Path, csv_writer: Callable[[Path], object]) -> Lake:
    """CSVs from `csv_writer`, ingested as the product does (the batch id is the ingestion's)."""
    csv_dir = root / "csv"
    csv_writer(csv_dir)
    lake_root = str(root / "lake")
    batch_id = ingest_folder(LocalLake(csv_dir), LocalLake(lake_root))
    return Lake(csv_dir=csv_dir, lake_root=lake_root, batch_id=batch_id, work_dir=root / "dbt")


def copy_warehouse(lake: Lake, target: Path) -> Lake:
    """A second build root holding a copy of `lake`'s built layers."""
    shutil.copytree(lake.warehouse, target / "warehouse")
    return Lake(
        csv_dir=lake.csv_dir,
        lake_root=lake.lake_root,
        batch_id=lake.batch_id,
        work_dir=target / "dbt",
        build_root=str(target / "warehouse"),
    )


__all__ = [
    "GENERATED_SCALE",
    "Lake",
    "copy_warehouse",
    "make_lake",
    "read_features",
    "snapshots_of",
    "spill_root",
]

"""Land CSVs as raw Parquet WITHOUT the ingestion's validation (test fixture helper).

Only for tests/dbt/synthetic.py's edge-case dataset, which deliberately holds rows that the
ingestion rejects (empty customer_unique_id, empty order_purchase_timestamp) so that the dbt
models' own guards against them stay tested. Every other dataset lands through
include.olist_risk.ingestion.batch.ingest_folder.

{lake_root}/raw/{table}/batch={batch_id}/{table}.parquet, every column VARCHAR with the exact
CSV header names, empty fields NULL, text otherwise untouched.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from include.olist_risk.olist.tables import TABLES


def land_raw(
    csv_dir: Path, lake_root: str, batch_id: str, con: duckdb.DuckDBPyConnection | None = None
) -> None:
    own = con is None
    con = con or duckdb.connect()
    try:
        for name, table in TABLES.items():
            source = (csv_dir / table.file_name).as_posix()
            target = f"{lake_root}/raw/{name}/batch={batch_id}/{name}.parquet"
            if not target.startswith("s3://"):
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            columns = ", ".join(f"'{c}': 'VARCHAR'" for c in table.header)
            con.execute(
                f"copy (select * from read_csv('{source}', header = true, all_varchar = true, "
                f"columns = {{{columns}}}, quote = '\"', escape = '\"', strict_mode = false)) "
                f"to '{target}' (format parquet)"
            )
    finally:
        if own:
            con.close()

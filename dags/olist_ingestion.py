"""
### Olist ingestion: landing zone -> validated raw Parquet in the lake -> DuckDB catalog

Finds the nine Olist CSVs in the landing zone (`OLIST_LANDING_URI`: a folder or `s3://...`,
plain, gzip'd or zipped), validates every file (exact header, parseable types, required ids,
unique keys), stages each table as Parquet under its batch's own prefix in the lake's raw zone
(`OLIST_LAKE_URI`), then publishes the batch whole by replacing one pointer object
(`raw/_current.json`). A bad file is quarantined (`quarantine/<batch>/`, with a JSON reason) and
its task fails with the file, row and column; the previously published batch stays current.
Exactly one file per table is taken from the landing folder itself (subfolders only with
`OLIST_LANDING_RECURSIVE=true`); two candidates for a table, a symlink or a special file
refuse the delivery. Before the pointer moves, batch gates compare row counts with the current
batch (a table shrinking by more than `OLIST_MAX_ROW_SHRINK`, default 10%, holds the batch
unless the run's `accept_shrink` param is true) and check that items, payments and reviews
name known orders and orders known customers (orphans above `OLIST_MAX_ORPHAN_SHARE`, default
1%, hold it); a held batch's reason is in `raw/_batches/<batch>/held.json`.
Re-running the same files is a no-op. Finally the DuckDB catalog of views is refreshed.

S3 is reached through the `aws_default` connection (see `airflow_settings.yaml`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from include.olist_risk.alerts import log_task_failure
from include.olist_risk.lake.assets import RAW_BATCH
from include.olist_risk.olist.tables import TABLES


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["olist", "ingestion", "raw"],
    params={
        "accept_shrink": Param(
            False,
            type="boolean",
            description=(
                "Publish the batch even if a table has fewer rows than the current batch by "
                "more than OLIST_MAX_ROW_SHRINK (default 10%). Leave off unless the smaller "
                "delivery is intended: the held run's log and held.json say which tables shrank."
            ),
        ),
    },
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": log_task_failure,
    },
)
def olist_ingestion():
    @task
    def discover_batch() -> dict:
        from include.olist_risk.ingestion.tasks import discover

        return discover()

    @task(map_index_template="{{ table_name }}")
    def stage_table(batch: dict, table: str) -> dict:
        from airflow.sdk import get_current_context

        from include.olist_risk.ingestion.tasks import stage

        get_current_context()["table_name"] = table
        return stage(batch, table)

    @task(outlets=[RAW_BATCH])
    def publish_batch(batch: dict, staged: list[dict]) -> dict:
        from airflow.sdk import get_current_context

        from include.olist_risk.ingestion.tasks import publish

        return publish(batch, accept_shrink=bool(get_current_context()["params"]["accept_shrink"]))

    @task(pool="duckdb_catalog")
    def refresh_catalog() -> dict:
        from include.olist_risk.ingestion.tasks import refresh

        return refresh()

    batch = discover_batch()
    staged = stage_table.partial(batch=batch).expand(table=list(TABLES))
    publish_batch(batch, staged) >> refresh_catalog()


olist_ingestion()

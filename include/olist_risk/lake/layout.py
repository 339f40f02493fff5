"""Where each thing lives in the lake: the keys every stage agrees on, defined once.

Keys are relative to the lake root (`OLIST_LAKE_URI`):

    raw/<table>/batch=<batch_id>/<table>.parquet        one delivered table, as text
    raw/_batches/<batch_id>/tables/<table>.json          what staging measured for one table
    raw/_batches/<batch_id>/manifest.json                the whole batch: checksums, row counts
    raw/_batches/<batch_id>/held.json                    why the batch gates held it back
    raw/_batches/<batch_id>/coverage-<rule>.json         its included purchases' span, kept
                                                         by the first run that read it
    raw/_current.json                                    the pointer readers follow
    quarantine/<batch_id>/<file>[.reason.json]           a rejected file and why
    warehouse/batches/<batch_id>/<code>/run=<run_id>/{bronze,silver,gold}/...
                                                         the models that depend only on the
                                                         batch and the code, built once
    warehouse/batches/.../run=<run_id>/_complete.json    that build is complete: read-only
    warehouse/batches/<batch_id>/<code>/_complete.json   the complete one later runs reuse
    warehouse/batches/.../run=<run_id>/_contracts_passed/<layer>-<contracts digest>.json
                                                         these Soda contracts passed on it
    warehouse/runs/<run_id>/gold/...                     one run's snapshot partitions
    warehouse/runs/<run_id>/_dbt/<layer>/run_results.json  what dbt reported for a layer, and
                                                         the batch, code, snapshot it built
    warehouse/_latest.json                               the build that published last
    feature_store/publications/<publication_id>/snapshot_date=<S>/data_0.parquet
                                                         a published snapshot, never rewritten
    feature_store/publications/<publication_id>/_manifests/snapshot_date=<S>.json
                                                         its batch, code version, rows, sha256
    feature_store/publications/<publication_id>/_stats/snapshot_date=<S>.json
                                                         its feature statistics (null rate,
                                                         quantiles, PSI), copied from the run's
    warehouse/runs/<run_id>/_feature_stats/snapshot_date=<S>.json
                                                         where the gold audit wrote them
    feature_store/_current.json                          the pointer readers follow: the
                                                         complete current set of snapshots
    reports/dag_id=<dag>/run_id=<run>/dataset=<d>/       Soda scan reports
    catalog/olist.duckdb                                 DuckDB views over all of the above

dbt reads the raw tables and its default build root through the environment
`transform/dbt_invocation.py` fills from these keys (`OLIST_RAW_TABLE_LOCATION`,
`OLIST_BUILD_ROOT`), not from a copy of them. A snapshot date is validated here too
(`snapshot_date`), for every caller.
"""

from __future__ import annotations

import re
from datetime import date

RAW_PREFIX = "raw"
POINTER_KEY = f"{RAW_PREFIX}/_current.json"
QUARANTINE_PREFIX = "quarantine"
WAREHOUSE_PREFIX = "warehouse"
LATEST_BUILD_KEY = f"{WAREHOUSE_PREFIX}/_latest.json"
RUN_BUILDS_PREFIX = f"{WAREHOUSE_PREFIX}/runs"
BATCH_BUILDS_PREFIX = f"{WAREHOUSE_PREFIX}/batches"
LAKE_CATALOG_KEY = "catalog/olist.duckdb"
FEATURE_STORE_PREFIX = "feature_store"
FEATURE_STORE_POINTER_KEY = f"{FEATURE_STORE_PREFIX}/_current.json"
PUBLICATIONS_PREFIX = f"{FEATURE_STORE_PREFIX}/publications"
REPORTS_PREFIX = "reports"

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_SNAPSHOT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-01")


def snapshot_date(value: str) -> str:
    """`value` if it is a snapshot date: a real month start written `YYYY-MM-01`.

    Raises ValueError naming the value otherwise. The one check every entry point uses (the
    DAG's run resolution, dbt invocations), so a date is never half-validated.
    """
    text = str(value)
    try:
        parsed = date.fromisoformat(text) if _SNAPSHOT_DATE.fullmatch(text) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"snapshot_date must be a month start written YYYY-MM-01, got {text!r}")
    return text


def table_key(table: str, batch_id: str) -> str:
    return f"{RAW_PREFIX}/{table}/batch={batch_id}/{table}.parquet"


def staged_table_key(batch_id: str, table: str) -> str:
    return f"{RAW_PREFIX}/_batches/{batch_id}/tables/{table}.json"


def batch_manifest_key(batch_id: str) -> str:
    return f"{RAW_PREFIX}/_batches/{batch_id}/manifest.json"


def batch_held_key(batch_id: str) -> str:
    return f"{RAW_PREFIX}/_batches/{batch_id}/held.json"


def batch_coverage_key(batch_id: str, rule: str) -> str:
    return f"{RAW_PREFIX}/_batches/{batch_id}/coverage-{rule}.json"


def quarantine_key(batch_id: str, file_name: str) -> str:
    return f"{QUARANTINE_PREFIX}/{batch_id}/{file_name}"


def run_build_prefix(run_id: str) -> str:
    """Each run builds its layers under its own prefix, so concurrent runs never share files."""
    return f"{RUN_BUILDS_PREFIX}/{_UNSAFE.sub('_', run_id)}"


def batch_build_prefix(batch_id: str, code_version: str, run_id: str) -> str:
    """Where a run builds the batch-scoped models; never shared with another run's build."""
    return f"{BATCH_BUILDS_PREFIX}/{batch_id}/{code_version}/run={_UNSAFE.sub('_', run_id)}"


def batch_build_complete_key(batch_build_prefix: str) -> str:
    return f"{batch_build_prefix}/_complete.json"


def batch_build_pointer_key(batch_id: str, code_version: str) -> str:
    return f"{BATCH_BUILDS_PREFIX}/{batch_id}/{code_version}/_complete.json"


def contracts_passed_key(batch_build_prefix: str, layer: str, contracts: str) -> str:
    """A verdict holds for the contracts it checked: `contracts` is their digest."""
    return f"{batch_build_prefix}/_contracts_passed/{layer}-{contracts}.json"


def dbt_results_key(build_prefix: str, layer: str) -> str:
    return f"{build_prefix}/_dbt/{layer}/run_results.json"


def publication_prefix(publication_id: str) -> str:
    return f"{PUBLICATIONS_PREFIX}/{publication_id}"


def snapshot_partition_key(publication_id: str, snapshot: str) -> str:
    return f"{publication_prefix(publication_id)}/snapshot_date={snapshot}/data_0.parquet"


def snapshot_manifest_key(publication_id: str, snapshot: str) -> str:
    return f"{publication_prefix(publication_id)}/_manifests/snapshot_date={snapshot}.json"


def report_prefix(dag_id: str, run_id: str, dataset: str) -> str:
    """Where a run's Soda reports of one dataset (`olist_lake/<layer>/<model>`) go."""
    dataset_part = dataset.split("/", 1)[-1].replace("/", ".")
    return "/".join(
        [
            REPORTS_PREFIX,
            f"dag_id={_UNSAFE.sub('_', dag_id)}",
            f"run_id={_UNSAFE.sub('_', run_id)}",
            f"dataset={_UNSAFE.sub('_', dataset_part)}",
        ]
    )


def run_feature_stats_key(build_prefix: str, snapshot: str) -> str:
    """A run's snapshot statistics as the gold audit wrote them (feature_store/health.py)."""
    return f"{build_prefix}/_feature_stats/snapshot_date={snapshot}.json"


def snapshot_stats_key(publication_id: str, snapshot: str) -> str:
    return f"{publication_prefix(publication_id)}/_stats/snapshot_date={snapshot}.json"

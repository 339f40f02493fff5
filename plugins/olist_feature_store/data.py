"""What the UI shows, read from the lake through the pipeline's own code (local folder or S3).

Snapshots come only from the feature-store pointer (`read_current_set`): that set is complete
and consistent, while a listing of `feature_store/` may show a publication still being written.
Row previews, null rates and downloads read the one file the pointer names for a snapshot, with
DuckDB opened by `duckdb_engine.connect(credentials=...)` so that an `s3://` lake works too.
Feature health (null rate and PSI per feature over snapshots) comes from the statistics files
publish wrote beside each snapshot (`stats_key` in the pointer), never from the snapshot files.
Quality results are the Soda reports (`reports/dag_id=.../run_id=.../dataset=.../scan.json`).
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from include.olist_risk.lake.catalog import read_current_set, sql_string
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import REPORTS_PREFIX, report_prefix
from include.olist_risk.lake.runtime import Runtime
from include.olist_risk.lake.storage import Lake, read_json

PREVIEW_ROWS = 50
# What a snapshot row shows, in this order; the pointer entry holds more (sha256, manifest key).
SNAPSHOT_FIELDS = (
    "snapshot_date",
    "rows",
    "raw_batch_id",
    "code_version",
    "run_id",
    "published_at",
    "publication_id",
)
# Failing checks first: what needs attention is at the top of every list.
OUTCOME_ORDER = {"failed": 0, "warn": 1, "not_evaluated": 2, "excluded": 3, "passed": 4}


class UnknownSnapshot(LookupError):
    """The snapshot is not in the current published set."""


def current_snapshots(lake: Lake) -> list[dict[str, Any]]:
    """Every snapshot of the current set as the pointer lists it, newest snapshot first."""
    pointer = read_current_set(lake)
    if not pointer:
        return []
    return [
        {**entry, "snapshot_date": snapshot}
        for snapshot, entry in sorted(pointer.get("snapshots", {}).items(), reverse=True)
    ]


def snapshot_entry(lake: Lake, snapshot: str) -> dict[str, Any]:
    """The pointer's entry for one snapshot. Files are only ever reached through this entry,
    so a request cannot name an arbitrary lake key (no path from the URL reaches the lake)."""
    for entry in current_snapshots(lake):
        if entry["snapshot_date"] == snapshot:
            return entry
    raise UnknownSnapshot(snapshot)


def feature_health(lake: Lake) -> dict[str, Any]:
    """Each feature's null rate and PSI in every snapshot of the current set that has
    statistics, oldest first, plus the warnings the audit recorded and its thresholds.

    {"snapshots": [S, ...], "features": {name: {"null_rate": [...], "psi": [...]}},
     "warnings": [...], "thresholds": {...}}; a value is null where a snapshot lacks it (no
    previous snapshot for PSI, a feature the snapshot did not have). Snapshots published
    before statistics existed are left out."""
    snapshots: list[str] = []
    per_feature: dict[str, dict[str, dict[str, float | None]]] = {}
    warnings: list[str] = []
    thresholds: dict[str, float] = {}
    for entry in reversed(current_snapshots(lake)):
        if not entry.get("stats_key"):
            continue
        stats = read_json(lake, entry["stats_key"])
        snapshot = entry["snapshot_date"]
        snapshots.append(snapshot)
        warnings += stats.get("warnings", [])
        thresholds = stats.get("thresholds", thresholds)
        for name, feature in stats["features"].items():
            series = per_feature.setdefault(name, {"null_rate": {}, "psi": {}})
            series["null_rate"][snapshot] = feature["null_rate"]
            series["psi"][snapshot] = feature["psi"]
    return {
        "snapshots": snapshots,
        "features": {
            name: {
                measure: [values.get(snapshot) for snapshot in snapshots]
                for measure, values in series.items()
            }
            for name, series in per_feature.items()
        },
        "warnings": warnings,
        "thresholds": thresholds,
    }


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON and HTML show it (dates and decimals become text/float)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# As the catalog's `feature_store` view reads the files: the snapshot date is in the path
# (`snapshot_date=<S>/data_0.parquet`), not in the file, and comes back as a column.
_READ = "read_parquet(?, hive_partitioning = true)"


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def preview(runtime: Runtime, entry: dict[str, Any], limit: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The snapshot file's first `limit` rows: {"columns": [...], "rows": [[...], ...]}."""
    source = runtime.lake.uri(entry["key"])
    with connect(credentials=runtime.credentials) as con:
        cursor = con.execute(f"select * from {_READ} limit ?", [source, limit])
        columns = [column[0] for column in cursor.description]
        rows = [[_plain(value) for value in row] for row in cursor.fetchall()]
    return {"columns": columns, "rows": rows}


def null_rates(runtime: Runtime, entry: dict[str, Any]) -> dict[str, float]:
    """column -> share of null values in the snapshot file, computed by DuckDB in one scan."""
    source = runtime.lake.uri(entry["key"])
    with connect(credentials=runtime.credentials) as con:
        columns = [
            row[0] for row in con.execute(f"describe select * from {_READ}", [source]).fetchall()
        ]
        if not columns:
            return {}
        counts = ", ".join(f"count({_quote_identifier(column)})" for column in columns)
        total, *filled = con.execute(f"select count(*), {counts} from {_READ}", [source]).fetchone()
    return {
        column: (round(1 - count / total, 4) if total else 0.0)
        for column, count in zip(columns, filled, strict=True)
    }


def download(runtime: Runtime, entry: dict[str, Any], fmt: str) -> Path:
    """The snapshot as a local file to stream: the published Parquet as is, or CSV from DuckDB.

    The file lands in a fresh temporary folder that the caller removes once it is sent; the
    Lake interface copies objects whole (S3 download or local copy), never into memory.
    """
    folder = Path(tempfile.mkdtemp(prefix="olist-plugin-"))
    snapshot = entry["snapshot_date"]
    if fmt == "parquet":
        parquet = folder / f"features_{snapshot}.parquet"
        runtime.lake.get_file(entry["key"], parquet)
        return parquet
    # Copied under its partition folder, so the CSV has the same columns as the preview.
    parquet = folder / f"snapshot_date={snapshot}" / "data_0.parquet"
    runtime.lake.get_file(entry["key"], parquet)
    csv = folder / f"features_{snapshot}.csv"
    with connect() as con:
        # COPY takes no prepared parameters; both paths are ours, quoted the SQL way.
        con.execute(
            f"copy (select * from read_parquet({sql_string(str(parquet))}, "
            f"hive_partitioning = true)) to {sql_string(str(csv))} (header, delimiter ',')"
        )
    return csv


def _run_prefix(key: str) -> str:
    """`reports/dag_id=<d>/run_id=<r>` of a report key."""
    return "/".join(key.split("/")[:3])


def _dataset_summary(scan: dict[str, Any], key: str) -> dict[str, Any]:
    checks = sorted(
        scan.get("checks", []),
        key=lambda check: (OUTCOME_ORDER.get(check.get("outcome"), 2), check.get("name") or ""),
    )
    outcomes = [check.get("outcome") for check in checks]
    return {
        "dataset": scan.get("dataset"),
        "ok": bool(scan.get("ok")),
        "rows": scan.get("rows"),
        "seconds": scan.get("seconds"),
        "dag_id": scan.get("dag_id"),
        "run_id": scan.get("run_id"),
        "task_id": scan.get("task_id"),
        "raw_batch_id": scan.get("raw_batch_id"),
        "scanned_at": scan.get("scanned_at"),
        "errors": scan.get("errors") or None,
        "passed": outcomes.count("passed"),
        "failed": outcomes.count("failed"),
        "warned": outcomes.count("warn"),
        "checks": [
            {
                "name": check.get("name"),
                "column": check.get("column"),
                "outcome": check.get("outcome"),
                "value": check.get("value"),
                "threshold": check.get("threshold"),
                "metrics": check.get("metrics") or {},
            }
            for check in checks
        ],
        "report_key": key,
    }


def quality_runs(
    lake: Lake, *, dag_id: str | None = None, run_id: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Soda results grouped by run, newest run first, failing datasets and checks first.

    Runs are ordered by when their reports were last written (the lake's modification times),
    so only the newest `limit` runs' scan.json files are read, not every report ever written.
    """
    prefix = REPORTS_PREFIX
    if dag_id:
        # The same sanitising the writer applies to dag and run ids in report keys.
        parts = report_prefix(dag_id, run_id or "x", "x").split("/")
        prefix = "/".join(parts[:3] if run_id else parts[:2])
    times = {
        key: modified
        for key, modified in lake.modified_times(prefix).items()
        if key.endswith("/scan.json")
    }
    runs: dict[str, float] = {}
    for key, modified in times.items():
        runs[_run_prefix(key)] = max(runs.get(_run_prefix(key), 0.0), modified)
    newest = sorted(runs, key=lambda run: runs[run], reverse=True)[:limit]
    result = []
    for run in newest:
        datasets = [
            _dataset_summary(json.loads(lake.read_bytes(key)), key)
            for key in sorted(times)
            if _run_prefix(key) == run
        ]
        datasets.sort(key=lambda dataset: (dataset["ok"], dataset["dataset"] or ""))
        first = datasets[0]
        result.append(
            {
                # The ids as Airflow knows them (from the report), not the sanitised key parts.
                "dag_id": first["dag_id"],
                "run_id": first["run_id"],
                "raw_batch_id": first["raw_batch_id"],
                "ok": all(dataset["ok"] for dataset in datasets),
                "scanned_at": max((d["scanned_at"] or "" for d in datasets), default=None),
                "datasets": datasets,
            }
        )
    return result


# The check history reads the newest HISTORY_RUNS runs and no more: one listing of `reports/`
# plus one scan.json per run and dataset, so the page costs the same on S3 however many runs
# the lake has kept.
HISTORY_RUNS = 10


def check_history(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per DAG and dataset, each check's outcome and measured value in every run that scanned
    the dataset, newest run first (`runs` as `quality_runs` returns them, newest first).

    A check is its column and name: names are written from the check's definition, so a
    changed rule starts a new history instead of mixing two rules' values. Checks failing in
    their latest run come first. A run that reused a build already verified has no report of
    its own for that dataset and is absent from that dataset's history.
    """
    datasets: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        for scanned in run["datasets"]:
            dataset = datasets.setdefault(
                (scanned["dag_id"], scanned["dataset"]),
                {
                    "dag_id": scanned["dag_id"],
                    "dataset": scanned["dataset"],
                    "runs": [],
                    "checks": {},
                },
            )
            dataset["runs"].append(
                {
                    "run_id": scanned["run_id"],
                    "scanned_at": scanned["scanned_at"],
                    "ok": scanned["ok"],
                    "task_id": scanned["task_id"],
                }
            )
            for check in scanned["checks"]:
                history = dataset["checks"].setdefault(
                    (check["column"], check["name"]),
                    {"column": check["column"], "name": check["name"], "history": []},
                )
                history["history"].append(
                    {
                        "run_id": scanned["run_id"],
                        "outcome": check["outcome"],
                        "value": check["value"],
                        "threshold": check["threshold"],
                    }
                )
    result = []
    for key in sorted(datasets, key=lambda key: (key[0] or "", key[1] or "")):
        dataset = datasets[key]
        checks = sorted(
            dataset["checks"].values(),
            key=lambda check: (
                OUTCOME_ORDER.get(check["history"][0]["outcome"], 2),
                check["column"] or "",
                check["name"] or "",
            ),
        )
        result.append({**dataset, "checks": checks})
    return result

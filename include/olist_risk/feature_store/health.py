"""Feature health as data: per-snapshot statistics of every feature, drift against the
previous snapshot, and the thresholds that warn or block a publish.

The gold audit computes the statistics of each of a run's snapshots with two DuckDB queries
per snapshot (`compute_stats`, after a read of the files' schema) and writes one JSON each into the
run's build (`warehouse/runs/<run>/_feature_stats/snapshot_date=<S>.json`); publish copies each
beside its snapshot (`feature_store/publications/<id>/_stats/snapshot_date=<S>.json`, named
by the pointer entry's `stats_key`). The UI plots these files, never the full table.

Per feature (every column but the keys `customer_unique_id` and `snapshot_date`):

- `nulls`, `null_rate` (of the snapshot's rows; null when the snapshot has no rows);
- numeric columns: `min`, `max`, `mean` and `quantiles` p01 p05 p25 p50 p75 p95 p99, and the
  `deciles` p10..p90 with `decile_counts`, the non-null rows in each of the 10 bins the deciles
  cut (`<= p10`, `(p10, p20]`, ..., `> p90`). Quantiles are DuckDB's `quantile_disc`: the
  smallest observed value v with at least a share q of the non-null values `<= v`;
- other columns (`customer_state`): `categories`, the rows per value (PSI over categories);
- `psi`, the population stability index against the previous snapshot P of the same
  publication: PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of P's and
  this snapshot's rows in each bin. Numeric bins are P's 10 decile bins; categorical bins are
  the values of either snapshot; nulls are a bin of their own in both, so PSI covers the whole
  population. A share of 0 counts as `PSI_EPSILON` (no ln 0). Null when there is no previous
  snapshot (the first of a full refresh; a previous one published without statistics), either
  has no rows, or a numeric feature had no values in P (no deciles to cut bins).

The previous snapshot P is the one before in the run (a full refresh publishes exactly its
snapshots) or, for the first snapshot of a one-snapshot run, the latest earlier snapshot of the
current published set, read from its statistics file (its deciles and counts are all PSI needs).

Thresholds (`HealthThresholds.from_env`, README "Feature health"): a feature **warns** when its
PSI is above `OLIST_FEATURE_PSI_WARN` (0.25, a major shift) or its null rate rose by more than
`OLIST_FEATURE_NULL_RISE_WARN` (0.10, absolute); a snapshot **blocks** the publish when it has
0 rows where P had rows, or a feature is entirely null that was less than
`OLIST_FEATURE_ALL_NULL_BLOCK_BELOW` (0.50) null in P: that is broken data, not drift.
Warnings need at least `OLIST_FEATURE_WARN_MIN_ROWS` (1000) rows in both snapshots: on a few
hundred customers (the first months of the data) PSI and null rates move by chance alone, and
a warning on every early snapshot teaches readers to ignore them. Blocks apply at any size.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from include.olist_risk.config import env_number
from include.olist_risk.feature_store.publish import built_partitions
from include.olist_risk.lake.catalog import read_current_set
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import run_feature_stats_key
from include.olist_risk.lake.storage import Lake, read_json, write_json

KEYS = ("customer_unique_id", "snapshot_date")
PSI_EPSILON = 1e-4
REPORTED = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# One quantile_disc call per column gives both the reported quantiles and the deciles.
LEVELS = sorted({*REPORTED.values(), *DECILES})
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


@dataclass(frozen=True)
class HealthThresholds:
    psi_warn: float = 0.25
    null_rise_warn: float = 0.10
    all_null_block_below: float = 0.50
    warn_min_rows: float = 1000

    @classmethod
    def from_env(cls) -> HealthThresholds:
        return cls(
            psi_warn=env_number("OLIST_FEATURE_PSI_WARN", 0.25),
            null_rise_warn=env_number("OLIST_FEATURE_NULL_RISE_WARN", 0.10, maximum=1.0),
            all_null_block_below=env_number(
                "OLIST_FEATURE_ALL_NULL_BLOCK_BELOW", 0.50, maximum=1.0
            ),
            warn_min_rows=env_number("OLIST_FEATURE_WARN_MIN_ROWS", 1000),
        )


def psi(expected: list[int], actual: list[int]) -> float:
    """PSI of two count vectors over the same bins (module docstring)."""
    expected_rows, actual_rows = sum(expected), sum(actual)
    total = 0.0
    for e_count, a_count in zip(expected, actual, strict=True):
        e = e_count / expected_rows or PSI_EPSILON
        a = a_count / actual_rows or PSI_EPSILON
        total += (a - e) * math.log(a / e)
    return total


def _name(index: int) -> str:
    return f"f{index}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _projection(columns: list[str], numeric: list[str]) -> str:
    return ", ".join(
        f"cast({_quote(column)} as {'double' if column in numeric else 'varchar'}) as {_name(i)}"
        for i, column in enumerate(columns)
    )


def _aggregates_sql(numeric: list[str], categorical: list[str]) -> str:
    """The aggregates of one file; quantile_disc gives both the reported quantiles and the
    deciles in one call per column."""
    columns = [*numeric, *categorical]
    aggregates = ["count(*) as rows"]
    for i, column in enumerate(columns):
        f = _name(i)
        aggregates.append(f"count({f}) as {f}_filled")
        if column in numeric:
            aggregates += [
                f"min({f}) as {f}_min",
                f"max({f}) as {f}_max",
                f"avg({f}) as {f}_mean",
                f"quantile_disc({f}, {LEVELS}) as {f}_q",
            ]
        else:
            aggregates.append(f"histogram({f}) as {f}_categories")
    return (
        f"select {', '.join(aggregates)} "
        f"from (select {_projection(columns, numeric)} from read_parquet($file))"
    )


def _edge(value: float | None) -> str:
    """A decile edge as a SQL double constant, exactly (repr round-trips; 'inf' parses)."""
    return "null::double" if value is None else f"'{float(value)!r}'::double"


def _bins_sql(numeric: list[str], own: list[Any], previous: list[Any]) -> str:
    """The rows of one file binned on its own deciles and on the previous snapshot's (per
    numeric column, a list of 9 edges or None), counted as `<= edge` per decile. The edges are
    written into the query as constants: read from a list parameter they were extracted again
    for every row and comparison (2.4x the time)."""
    bins = []
    for i in range(len(numeric)):
        f = _name(i)
        # count_if is null, not 0, when every comparison is null (no values, no edges);
        # `count(*) filter (...)` says 0 but costs several times more per aggregate.
        for side, edges in (("o", own[i]), ("p", previous[i])):
            counts = ", ".join(
                f"coalesce(count_if({f} <= {_edge(edges[k] if edges else None)}), 0)"
                for k in range(len(DECILES))
            )
            bins.append(f"[{counts}] as {f}_{side}le")
    return (
        f"select {', '.join(bins)} "
        f"from (select {_projection(numeric, numeric)} from read_parquet($file))"
    )


def _each(
    con: duckdb.DuckDBPyConnection, queries: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The one row each (query, parameters) returns, queries run two at a time: much of a
    quantile's work is on one thread, and the snapshots are independent."""

    def run(query: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        with con.cursor() as cursor:
            cursor.execute(*query)
            names = [column[0] for column in cursor.description]
            return dict(zip(names, cursor.fetchone(), strict=True))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, queries))


def _split(cumulative: list[int], filled: int) -> list[int]:
    """Counts `<= edge` per decile -> counts per bin (the last bin is `> p90`)."""
    return [b - a for a, b in zip([0, *cumulative], [*cumulative, filled], strict=True)]


def _levels(row: dict[str, Any], f: str) -> dict[float, Any]:
    return dict(zip(LEVELS, row.get(f"{f}_q") or [None] * len(LEVELS), strict=True))


def _deciles(row: dict[str, Any], f: str) -> list[Any] | None:
    """The decile edges of a numeric column, None when it has no values."""
    if not row.get(f"{f}_filled"):
        return None
    levels = _levels(row, f)
    return [levels[level] for level in DECILES]


def _numeric_stats(row: dict[str, Any], f: str, rows: int) -> dict[str, Any]:
    filled = row.get(f"{f}_filled") or 0
    levels = _levels(row, f)
    has_values = filled > 0
    return {
        "kind": "numeric",
        "nulls": rows - filled,
        "min": row.get(f"{f}_min"),
        "max": row.get(f"{f}_max"),
        "mean": row.get(f"{f}_mean"),
        "quantiles": {name: levels[level] for name, level in REPORTED.items()},
        "deciles": _deciles(row, f),
        "decile_counts": _split(row[f"{f}_ole"], filled) if has_values else None,
    }


def _categorical_stats(row: dict[str, Any], f: str, rows: int) -> dict[str, Any]:
    filled = row.get(f"{f}_filled") or 0
    return {
        "kind": "categorical",
        "nulls": rows - filled,
        "categories": dict(sorted((row.get(f"{f}_categories") or {}).items())),
    }


def _feature_psi(
    feature: dict[str, Any], previous: dict[str, Any] | None, actual_on_previous: list[int] | None
) -> float | None:
    """PSI of a feature against the previous snapshot's (nulls a bin of their own)."""
    if previous is None or previous.get("kind") != feature["kind"]:
        return None
    if feature["kind"] == "categorical":
        values = sorted({*feature["categories"], *previous["categories"]})
        expected = [previous["nulls"]] + [previous["categories"].get(v, 0) for v in values]
        actual = [feature["nulls"]] + [feature["categories"].get(v, 0) for v in values]
    else:
        if actual_on_previous is None:
            return None
        expected = [previous["nulls"], *previous["decile_counts"]]
        actual = [feature["nulls"], *actual_on_previous]
    if not sum(expected) or not sum(actual):
        return None
    return psi(expected, actual)


def compute_stats(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, str],
    baseline: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """snapshot -> its statistics, for `files` (snapshot -> Parquet URI `con` can read), each
    compared with the snapshot before it; the first with `baseline`, the statistics (as this
    function returns them) of the snapshot before the run, if any. Two queries per file: its
    aggregates, then its rows binned on the deciles.

    One file per query: holistic aggregates (quantiles) hold a column's values in memory, and
    all snapshots in one query took 6 GiB at scale 10 (9.8M rows); two files at a time, 0.7 GiB.

    Sets `con` to one thread per query (two queries run at once): a DOUBLE column's mean then
    adds up in the file's row order, the same on every run to the last bit, where threads
    combining row groups in any order made it differ between runs. It is also faster (a local
    lake at scale 10: 26.6 s, against 35.7 s with both threads for each of the two queries)."""
    con.execute("set threads = 1")
    snapshots = sorted(files)
    uris = [files[snapshot] for snapshot in snapshots]
    schema = con.execute("describe select * from read_parquet(?)", [uris]).fetchall()
    features = [(name, kind) for name, kind, *_ in schema if name not in KEYS]
    numeric = [name for name, kind in features if kind.upper().startswith(_NUMERIC)]
    categorical = [name for name, _ in features if name not in numeric]
    aggregated = _aggregates_sql(numeric, categorical)
    aggregates = _each(con, [(aggregated, {"file": uri}) for uri in uris])
    bins: list[dict[str, Any]] = [{} for _ in snapshots]
    if numeric:
        # each snapshot binned on its own deciles and on those of the snapshot before it
        base = (baseline or {}).get("features", {})
        deciles = [[(base.get(name) or {}).get("deciles") for name in numeric]] + [
            [_deciles(row, _name(i)) for i in range(len(numeric))] for row in aggregates
        ]
        bins = _each(
            con,
            [
                (_bins_sql(numeric, deciles[position + 1], deciles[position]), {"file": uri})
                for position, uri in enumerate(uris)
            ],
        )

    result: dict[str, dict[str, Any]] = {}
    previous = baseline
    for snapshot, aggregated, binned in zip(snapshots, aggregates, bins, strict=True):
        row = {**aggregated, **binned}
        rows = row["rows"]
        stats: dict[str, Any] = {
            "snapshot_date": snapshot,
            "rows": rows,
            "previous": (
                {"snapshot_date": previous["snapshot_date"], "rows": previous["rows"]}
                if previous
                else None
            ),
            "features": {},
        }
        for i, column in enumerate([*numeric, *categorical]):
            f = _name(i)
            before = (previous or {}).get("features", {}).get(column)
            on_previous = None
            if column in numeric:
                feature = _numeric_stats(row, f, rows)
                if rows and before and before.get("deciles"):
                    on_previous = _split(row[f"{f}_ple"], row[f"{f}_filled"])
            else:
                feature = _categorical_stats(row, f, rows)
            feature["null_rate"] = feature["nulls"] / rows if rows else None
            feature["previous_null_rate"] = before.get("null_rate") if before else None
            feature["psi"] = _feature_psi(feature, before, on_previous)
            stats["features"][column] = feature
        result[snapshot] = stats
        previous = stats
    return result


def assess(stats: dict[str, Any], thresholds: HealthThresholds) -> tuple[list[str], list[str]]:
    """(warnings, blocks) of one snapshot's statistics against the thresholds."""
    snapshot = stats["snapshot_date"]
    previous = stats.get("previous")
    warnings: list[str] = []
    blocks: list[str] = []
    if previous is None:
        return warnings, blocks
    against = f"previous snapshot {previous['snapshot_date']}"
    if stats["rows"] == 0 and previous["rows"]:
        blocks.append(f"snapshot {snapshot} has 0 rows; the {against} had {previous['rows']}")
    warn = min(stats["rows"], previous["rows"]) >= thresholds.warn_min_rows
    for name, feature in stats["features"].items():
        rate, before = feature["null_rate"], feature["previous_null_rate"]
        if rate is not None and before is not None:
            if rate == 1.0 and before < thresholds.all_null_block_below:
                blocks.append(
                    f"snapshot {snapshot}, feature {name}: null rate 100% (every row null); "
                    f"{before:.1%} in the {against}"
                )
            elif warn and rate - before > thresholds.null_rise_warn:
                warnings.append(
                    f"snapshot {snapshot}, feature {name}: null rate {rate:.1%}, up from "
                    f"{before:.1%} in the {against} (more than {thresholds.null_rise_warn:.0%})"
                )
        if warn and feature["psi"] is not None and feature["psi"] > thresholds.psi_warn:
            warnings.append(
                f"snapshot {snapshot}, feature {name}: PSI {feature['psi']:.3f} against the "
                f"{against} (above {thresholds.psi_warn:g})"
            )
    return warnings, blocks


@dataclass(frozen=True)
class FeatureHealth:
    """What the audit found: each snapshot's statistics key in the run's build, and the lines
    past the thresholds."""

    stats_keys: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)


def _published_baseline(lake: Lake, first: str) -> dict[str, Any] | None:
    """The statistics of the current set's latest snapshot before `first`: the snapshot a
    one-snapshot run's follows once published. Without a statistics file (published before
    they existed) only its rows are known, so only the 0-row check applies."""
    pointer = read_current_set(lake) or {}
    earlier = [snapshot for snapshot in pointer.get("snapshots", {}) if snapshot < first]
    if not earlier:
        return None
    entry = pointer["snapshots"][max(earlier)]
    if entry.get("stats_key"):
        return read_json(lake, entry["stats_key"])
    return {"snapshot_date": max(earlier), "rows": entry["rows"], "features": {}}


def audit_feature_health(
    lake: Lake,
    build_prefix: str,
    *,
    full_refresh: bool,
    thresholds: HealthThresholds,
    credentials: S3Credentials | None = None,
) -> FeatureHealth:
    """Compute the run's snapshot statistics, judge them and write them into the run's build,
    where publish picks them up (module docstring)."""
    partitions = built_partitions(lake, build_prefix)
    if not partitions:
        return FeatureHealth()
    baseline = None if full_refresh else _published_baseline(lake, min(partitions))
    files = {snapshot: lake.uri(key) for snapshot, key in partitions.items()}
    with connect(credentials=credentials) as con:
        stats = compute_stats(con, files, baseline)
    health = FeatureHealth()
    for snapshot, snapshot_stats in stats.items():
        warnings, blocks = assess(snapshot_stats, thresholds)
        key = run_feature_stats_key(build_prefix, snapshot)
        write_json(
            lake,
            key,
            {
                **snapshot_stats,
                "thresholds": asdict(thresholds),
                "warnings": warnings,
                "blocks": blocks,
            },
        )
        health.stats_keys[snapshot] = key
        health.warnings.extend(warnings)
        health.blocks.extend(blocks)
    return health

"""Feature health as data: per-snapshot statistics of every feature, drift against the
previous snapshot, and the thresholds that warn or block a publish.

The gold audit computes the statistics of each of a run's snapshots from two DuckDB queries
per snapshot (`compute_stats`, after a read of the files' schema: its counts, and each numeric
feature's distinct values with their rows) and writes one JSON each into the run's build
(`warehouse/runs/<run>/_feature_stats/snapshot_date=<S>.json`); publish copies each
beside its snapshot (`feature_store/publications/<id>/_stats/snapshot_date=<S>.json`, named
by the pointer entry's `stats_key`). The UI plots these files, never the full table.

Per feature (every column but the keys `customer_unique_id` and `snapshot_date`):

- `nulls`, `null_rate` (of the snapshot's rows; null when the snapshot has no rows);
- numeric columns: `min`, `max`, `mean` and `quantiles` p01 p05 p25 p50 p75 p95 p99, and the
  `deciles` p10..p90 with `decile_counts`, the non-null rows in each of the 10 bins the deciles
  cut (`<= p10`, `(p10, p20]`, ..., `> p90`). The quantile at p% is the smallest observed
  value v with at least p% of the non-null values `<= v` (DuckDB's `quantile_disc`);
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
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from operator import itemgetter, mul
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
# Quantile levels in whole percent, so the rank each needs is computed in integers.
REPORTED = {"p01": 1, "p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "p99": 99}
DECILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
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


def _counts_sql(columns: list[str], numeric: list[str], categorical: list[str]) -> str:
    """One file's rows, each feature's non-null values and each categorical feature's rows
    per value."""
    aggregates = ["count(*) as rows"]
    for i, column in enumerate(columns):
        aggregates.append(f"count({_name(i)}) as {_name(i)}_filled")
        if column in categorical:
            aggregates.append(f"histogram({_name(i)}) as {_name(i)}_categories")
    return (
        f"select {', '.join(aggregates)} "
        f"from (select {_projection(columns, numeric)} from read_parquet($file))"
    )


def _values_sql(numeric: list[str]) -> str:
    """One file's numeric features as (feature, value, rows) in value order, nulls left out:
    all a numeric feature's statistics are read from these pairs (`_numeric_stats`), which
    hold each distinct value once."""
    branches = " union all ".join(
        f"select {i} as feature, {_name(i)} as x, count(*) as n from v "
        f"where {_name(i)} is not null group by {_name(i)}"
        for i in range(len(numeric))
    )
    return (
        f"with v as (select {_projection(numeric, numeric)} from read_parquet($file)) "
        f"{branches} order by feature, x"
    )


def _order(value: float) -> tuple[bool, float]:
    """DuckDB's order of doubles, which sorted the values: NaN after every number."""
    return (math.isnan(value), value)


def _split(cumulative: list[int], filled: int) -> list[int]:
    """Counts `<= edge` per decile -> counts per bin (the last bin is `> p90`)."""
    return [b - a for a, b in zip([0, *cumulative], [*cumulative, filled], strict=True)]


def _numeric_stats(
    values: Sequence[float], rows: Sequence[int], nulls: int, previous_deciles: list[Any] | None
) -> tuple[dict[str, Any], list[int] | None]:
    """A numeric feature's statistics from its distinct `values` (ascending) and the `rows`
    holding each, and its counts in the previous snapshot's decile bins (None without them).
    The counts are integers, the quantile at p% is the first value whose running count
    reaches p% of the values, and the mean sums value x rows (each product rounded once) with
    math.fsum, whose result does not depend on the order of its terms: no figure depends on
    the order DuckDB read the rows in."""
    if not values:
        # every row in the null bin, none in the previous snapshot's value bins
        return (
            {
                "kind": "numeric",
                "nulls": nulls,
                "min": None,
                "max": None,
                "mean": None,
                "quantiles": dict.fromkeys(REPORTED),
                "deciles": None,
                "decile_counts": None,
            },
            [0] * (len(DECILES) + 1) if previous_deciles else None,
        )
    running = list(accumulate(rows))
    filled = running[-1]

    def quantile(percent: int) -> float:
        return values[bisect_left(running, -(-filled * percent // 100))]

    def at_or_below(edges: list[Any]) -> list[int]:
        ends = [bisect_right(values, _order(float(edge)), key=_order) for edge in edges]
        return [running[end - 1] if end else 0 for end in ends]

    try:
        mean = math.fsum(map(mul, values, rows)) / filled
    except (ValueError, OverflowError):
        # inf and -inf both present, or a total past the largest double: a plain sum in value
        # order gives DuckDB's avg (nan, inf or -inf)
        mean = sum(map(mul, values, rows)) / filled
    deciles = [quantile(percent) for percent in DECILES]
    return (
        {
            "kind": "numeric",
            "nulls": nulls,
            "min": values[0],
            "max": values[-1],
            "mean": mean,
            "quantiles": {name: quantile(percent) for name, percent in REPORTED.items()},
            "deciles": deciles,
            "decile_counts": _split(at_or_below(deciles), filled),
        },
        _split(at_or_below(previous_deciles), filled) if previous_deciles else None,
    )


def _categorical_stats(categories: dict[str, int] | None, nulls: int) -> dict[str, Any]:
    return {
        "kind": "categorical",
        "nulls": nulls,
        "categories": dict(sorted((categories or {}).items())),
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
    counts, then its numeric features' distinct values and their rows (`_values_sql`), from
    which each feature's statistics and its bins on the previous snapshot's deciles follow.

    One file per query, so memory holds one snapshot's distinct values at a time (all
    snapshots at once took 6 GiB at scale 10)."""
    snapshots = sorted(files)
    schema = con.execute(
        "describe select * from read_parquet(?)", [[files[s] for s in snapshots]]
    ).fetchall()
    features = [(name, kind) for name, kind, *_ in schema if name not in KEYS]
    numeric = [name for name, kind in features if kind.upper().startswith(_NUMERIC)]
    categorical = [name for name, _ in features if name not in numeric]
    columns = [*numeric, *categorical]
    counts_query = _counts_sql(columns, numeric, categorical)

    result: dict[str, dict[str, Any]] = {}
    previous = baseline
    for snapshot in snapshots:
        file = {"file": files[snapshot]}
        cursor = con.execute(counts_query, file)
        counts = dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))
        before = (previous or {}).get("features", {})
        pairs = con.execute(_values_sql(numeric), file).fetchall() if numeric else []
        # the pairs of feature i: from the first of i to the first of i + 1
        starts = [bisect_left(pairs, i, key=itemgetter(0)) for i in range(len(numeric) + 1)]
        rows = counts["rows"]
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
        for i, column in enumerate(columns):
            f = _name(i)
            filled = counts[f"{f}_filled"]
            was = before.get(column)
            on_previous = None
            if column in numeric:
                own = pairs[starts[i] : starts[i + 1]]
                feature, on_previous = _numeric_stats(
                    [value for _, value, _ in own],
                    [holding for _, _, holding in own],
                    rows - filled,
                    was.get("deciles") if rows and was else None,
                )
            else:
                feature = _categorical_stats(counts[f"{f}_categories"], rows - filled)
            feature["null_rate"] = feature["nulls"] / rows if rows else None
            feature["previous_null_rate"] = was.get("null_rate") if was else None
            feature["psi"] = _feature_psi(feature, was, on_previous)
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

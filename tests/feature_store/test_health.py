"""Feature health as data: per-snapshot statistics of every feature, PSI against the previous
snapshot, the audit's warn and block thresholds, and publish carrying the statistics along.

Expected values come from hand-made distributions: shares counted by construction and PSI
written out with its formula, sum((a - e) * ln(a / e)), empty bins at the epsilon."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.olist_risk.feature_store import tasks
from include.olist_risk.feature_store.health import HealthThresholds, assess, compute_stats
from include.olist_risk.feature_store.publish import MODEL_DIR
from include.olist_risk.lake.catalog import read_current_set, sql_string
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import (
    FEATURE_STORE_POINTER_KEY,
    PUBLICATIONS_PREFIX,
    run_build_prefix,
    run_feature_stats_key,
)
from include.olist_risk.lake.storage import LocalLake, read_json
from tests.feature_store.publish_helpers import FailingLake, build, publish

EPS = 1e-4


def term(a: float, e: float) -> float:
    """One bin's PSI term, an empty bin's share taken as the epsilon."""
    a, e = a or EPS, e or EPS
    return (a - e) * math.log(a / e)


def snapshot_file(tmp: Path, name: str, amounts: list[Any], states: list[Any] | None = None) -> str:
    """A snapshot file: one row per value of `amounts` (a numeric feature), `state` beside it."""
    states = states or ["SP"] * len(amounts)

    def literal(values: list[Any]) -> str:
        def one(value: Any) -> str:
            if value is None:
                return "null"
            if isinstance(value, float) and not math.isfinite(value):
                return f"'{value!r}'::double"
            return repr(value)

        return "[" + ", ".join(one(v) for v in values) + "]"

    path = tmp / f"{name}.parquet"
    with connect() as con:
        con.execute(
            f"copy (select 'c' || i as customer_unique_id, "
            f"cast({literal(amounts)}[i + 1] as double) as amount, "
            f"cast({literal(states)}[i + 1] as varchar) as state "
            f"from range({len(amounts)}) t(i)) to {sql_string(str(path))} (format parquet)"
        )
    return str(path)


def stats_of(files: dict[str, str], baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    with connect() as con:
        return compute_stats(con, files, baseline)


# --- statistics and PSI ----------------------------------------------------------------------


def test_numeric_stats_and_psi_on_the_previous_deciles_match_a_hand_computation(
    tmp_path: Path,
) -> None:
    # Previous: 1..10, so its deciles are 1..9 and each of the 10 bins holds one value (0.1).
    # Current: five 1s, a 2, a 3, a 4 and two nulls: shares 0.5 in <= 1, 0.1 in (1,2], (2,3],
    # (3,4], nothing above 4, and 0.2 in the null bin, which the previous left empty.
    previous = snapshot_file(tmp_path, "p", list(range(1, 11)))
    current = snapshot_file(tmp_path, "c", [1, 1, 1, 1, 1, 2, 3, 4, None, None])
    stats = stats_of({"2017-01-01": previous, "2017-02-01": current})

    before = stats["2017-01-01"]["features"]["amount"]
    assert before["deciles"] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert before["decile_counts"] == [1] * 10 and before["psi"] is None
    amount = stats["2017-02-01"]["features"]["amount"]
    assert (amount["nulls"], amount["null_rate"], amount["previous_null_rate"]) == (2, 0.2, 0.0)
    assert (amount["min"], amount["max"], amount["mean"]) == (1, 4, 14 / 8)
    # Nearest rank over the 8 values: p50 needs 4 values at or below it (1), p99 all 8 (4).
    assert amount["quantiles"] == {
        "p01": 1,
        "p05": 1,
        "p25": 1,
        "p50": 1,
        "p75": 2,
        "p95": 4,
        "p99": 4,
    }
    expected = term(0.2, 0) + term(0.5, 0.1) + 3 * term(0.1, 0.1) + 6 * term(0, 0.1)
    assert amount["psi"] == pytest.approx(expected, rel=1e-12)
    assert amount["psi"] == pytest.approx(6.3037, abs=1e-4)  # 1.5194 + 0.6438 + 4.1405


def test_identical_distributions_in_another_row_order_have_psi_zero(tmp_path: Path) -> None:
    values = [0.5, 2.0, 2.0, 3.25, None, 7.0, 9.0, 11.0, 4.0, 5.5, 6.0, 8.0]
    stats = stats_of(
        {
            "2017-01-01": snapshot_file(tmp_path, "p", values),
            "2017-02-01": snapshot_file(tmp_path, "c", values[::-1]),
        }
    )
    assert stats["2017-02-01"]["features"]["amount"]["psi"] == pytest.approx(0.0, abs=1e-12)
    assert stats["2017-02-01"]["features"]["state"]["psi"] == pytest.approx(0.0, abs=1e-12)
    assert assess(stats["2017-02-01"], HealthThresholds()) == ([], [])


def test_the_statistics_of_a_file_of_many_row_groups_are_the_same_on_every_run(
    tmp_path: Path,
) -> None:
    # Doubles 12 orders of magnitude apart: their sum depends on the order they are added in,
    # and 64 row groups let several threads each add a share before combining them.
    path = tmp_path / "wide.parquet"
    with connect() as con:
        con.execute(
            "copy (select 'c' || i as customer_unique_id, "
            "case when i % 7 = 0 then 1e12 + i else 1.0 / (i + 3) end as amount "
            f"from range(131072) t(i)) to {sql_string(str(path))} "
            "(format parquet, row_group_size 2048)"
        )
        row_groups = con.execute(
            f"select count(distinct row_group_id) from parquet_metadata({sql_string(str(path))})"
        ).fetchone()[0]
    assert row_groups == 64
    runs = []
    for _ in range(5):
        with connect() as con:
            con.execute("set threads = 4")  # what the statistics must not depend on
            runs.append(json.dumps(compute_stats(con, {"2018-01-01": str(path)})))
    assert len(set(runs)) == 1


def at_or_below(path: str, edges: list[float]) -> list[int]:
    with connect() as con:
        return [
            con.execute(
                "select count_if(amount <= ?) from read_parquet(?)", [edge, path]
            ).fetchone()[0]
            for edge in edges
        ]


def nan_safe(values: list[Any] | None) -> list[Any] | None:
    """NaN is unequal to itself: as a string, lists holding it compare."""
    return None if values is None else ["nan" if v is not None and v != v else v for v in values]


def bins(cumulative: list[int], filled: int) -> list[int]:
    return [b - a for a, b in zip([0, *cumulative], [*cumulative, filled], strict=True)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 101, 4999])
def test_quantiles_and_bin_counts_equal_duckdbs_quantile_disc_and_counts(
    tmp_path: Path, size: int
) -> None:
    """The statistics come from each value's row count; DuckDB's own `quantile_disc` and
    `count_if` on the rows are the oracle. Values with ties, negatives, nulls, huge values,
    infinities and NaN (which DuckDB orders after every number)."""
    rng = random.Random(size)
    pool = [-2.5, 0.0, -0.0, 1.0, 1.0, 3.75, 1e12, 1.5e308, math.inf, -math.inf, math.nan]

    def draw(n: int) -> list[Any]:
        return [
            rng.choice(pool) if rng.random() < 0.3 else None if rng.random() < 0.1 else
            round(rng.uniform(-100, 100), rng.choice([0, 3]))
            for _ in range(n)
        ]  # fmt: skip

    previous = snapshot_file(tmp_path, "p", draw(size + 3))
    current = snapshot_file(tmp_path, "c", draw(size))
    stats = stats_of({"2017-01-01": previous, "2017-02-01": current})

    for path, snapshot in ((previous, "2017-01-01"), (current, "2017-02-01")):
        amount = stats[snapshot]["features"]["amount"]
        with connect() as con:
            reported, deciles, low, high, mean, filled = con.execute(
                "select quantile_disc(amount, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]), "
                "quantile_disc(amount, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]), "
                "min(amount), max(amount), avg(amount), count(amount) from read_parquet(?)",
                [path],
            ).fetchone()
        assert nan_safe(list(amount["quantiles"].values())) == nan_safe(reported or [None] * 7)
        assert nan_safe(amount["deciles"]) == nan_safe(deciles)
        assert nan_safe([amount["min"], amount["max"], amount["mean"]]) == nan_safe(
            [low, high, pytest.approx(mean, rel=1e-12) if mean == mean else mean]
        )
        assert amount["decile_counts"] == (
            bins(at_or_below(path, deciles), filled) if filled else None
        )

    before = stats["2017-01-01"]["features"]["amount"]
    after = stats["2017-02-01"]["features"]["amount"]
    assert before["deciles"], "the previous snapshot has values"
    actual = [after["nulls"], *bins(at_or_below(current, before["deciles"]), size - after["nulls"])]
    expected = [before["nulls"], *before["decile_counts"]]
    assert after["psi"] == pytest.approx(
        sum(
            term(a / sum(actual), e / sum(expected)) for a, e in zip(actual, expected, strict=True)
        ),
        rel=1e-12,
    )


def test_each_of_several_numeric_features_of_any_numeric_type_gets_its_own_statistics(
    tmp_path: Path,
) -> None:
    """Features come back from one query, split per feature: integer, all-null, decimal and
    double columns side by side, each compared with DuckDB's quantile_disc of that column."""
    path = tmp_path / "mixed.parquet"
    with connect() as con:
        con.execute(
            "copy (select 'c' || i as customer_unique_id, "
            "cast(i % 7 as integer) as orders, cast(null as double) as empty, "
            "cast((i * 37) % 101 as decimal(10, 2)) / 4 as spent, "
            "case when i % 5 = 0 then null else 1.0 / (i + 1) end as rate, "
            "case when i % 2 = 0 then 'SP' end as state "
            f"from range(503) t(i)) to {sql_string(str(path))} (format parquet)"
        )
        expected = {
            column: con.execute(
                f"select quantile_disc({column}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]), "
                f"min({column}), max({column}), count({column}) from read_parquet(?)",
                [str(path)],
            ).fetchone()
            for column in ("orders", "empty", "spent", "rate")
        }
    features = stats_of({"2017-01-01": str(path)})["2017-01-01"]["features"]

    for column, (deciles, low, high, filled) in expected.items():
        feature = features[column]
        assert feature["kind"] == "numeric"
        assert (feature["nulls"], feature["min"], feature["max"]) == (503 - filled, low, high)
        assert feature["deciles"] == ([float(value) for value in deciles] if deciles else None), (
            column
        )
    assert features["empty"]["decile_counts"] is None
    assert features["state"]["categories"] == {"SP": 252}


@pytest.mark.parametrize(
    "values",
    [[1e308, 1.5e308, 1.0], [-1e308, -1.5e308], [math.inf, -math.inf, 2.0], [math.nan, 1.0]],
)
def test_a_mean_beyond_doubles_is_what_duckdbs_avg_says(
    tmp_path: Path, values: list[float]
) -> None:
    path = snapshot_file(tmp_path, "s", values)
    with connect() as con:
        (mean,) = con.execute("select avg(amount) from read_parquet(?)", [path]).fetchone()
    assert nan_safe(
        [stats_of({"2017-01-01": path})["2017-01-01"]["features"]["amount"]["mean"]]
    ) == (nan_safe([mean]))
    assert not math.isfinite(mean)


def test_a_feature_that_lost_every_value_puts_all_its_rows_in_the_null_bin(
    tmp_path: Path,
) -> None:
    previous = snapshot_file(tmp_path, "p", list(range(1, 11)))
    current = snapshot_file(tmp_path, "c", [None] * 4)
    amount = stats_of({"2017-01-01": previous, "2017-02-01": current})["2017-02-01"]["features"][
        "amount"
    ]
    assert (amount["nulls"], amount["min"], amount["deciles"], amount["decile_counts"]) == (
        4,
        None,
        None,
        None,
    )
    assert set(amount["quantiles"].values()) == {None}
    # every row in the null bin, which the previous left empty; its 10 bins now empty
    assert amount["psi"] == pytest.approx(term(1.0, 0) + 10 * term(0, 0.1), rel=1e-12)


def test_a_categorical_feature_gets_psi_over_its_values(tmp_path: Path) -> None:
    # Previous: SP 6, RJ 3, null 1 of 10; current: SP 3, RJ 3, MG 4. Bins null, MG, RJ, SP.
    previous = snapshot_file(tmp_path, "p", [1] * 10, ["SP"] * 6 + ["RJ"] * 3 + [None])
    current = snapshot_file(tmp_path, "c", [1] * 10, ["SP"] * 3 + ["RJ"] * 3 + ["MG"] * 4)
    state = stats_of({"2017-01-01": previous, "2017-02-01": current})["2017-02-01"]["features"][
        "state"
    ]
    assert state["kind"] == "categorical"
    assert state["categories"] == {"MG": 4, "RJ": 3, "SP": 3}
    expected = term(0, 0.1) + term(0.4, 0) + term(0.3, 0.3) + term(0.3, 0.6)
    assert state["psi"] == pytest.approx(expected, rel=1e-12)


def test_a_run_of_one_snapshot_compares_with_the_published_statistics(tmp_path: Path) -> None:
    """The previous snapshot's statistics file (its deciles and counts) stands in for its
    data: the PSI is the one a run building both snapshots computes."""
    previous = snapshot_file(tmp_path, "p", [float(i) for i in range(40)])
    current = snapshot_file(tmp_path, "c", [float(i % 17) for i in range(50)] + [None] * 5)
    both = stats_of({"2017-01-01": previous, "2017-02-01": current})
    alone = stats_of({"2017-02-01": current}, baseline=json.loads(json.dumps(both["2017-01-01"])))
    assert alone["2017-02-01"]["previous"] == {"snapshot_date": "2017-01-01", "rows": 40}
    for feature in ("amount", "state"):
        assert alone["2017-02-01"]["features"][feature]["psi"] == pytest.approx(
            both["2017-02-01"]["features"][feature]["psi"], rel=1e-12
        )
    assert both["2017-02-01"]["features"]["amount"]["psi"] > 0.25


# --- thresholds ---------------------------------------------------------------------------------


def _stats(rows: int, previous_rows: int, null_rate: float, before: float, psi: float | None):
    feature = {"null_rate": null_rate, "previous_null_rate": before, "psi": psi}
    return {
        "snapshot_date": "2017-02-01",
        "rows": rows,
        "previous": {"snapshot_date": "2017-01-01", "rows": previous_rows},
        "features": {"amount": feature},
    }


@pytest.mark.parametrize(
    ("stats", "warned", "blocked"),
    [
        (_stats(1000, 1000, 0.05, 0.0, 0.25), [], []),  # at the thresholds: nothing
        (_stats(1000, 1000, 0.11, 0.0, 0.01), ["null rate 11.0%, up from 0.0%"], []),
        (_stats(1000, 1000, 0.0, 0.0, 0.26), ["PSI 0.260"], []),
        (_stats(1000, 1000, 1.0, 0.49, None), [], ["null rate 100%"]),
        # Mostly null before: all null is a rise, not broken data.
        (_stats(1000, 1000, 1.0, 0.5, None), ["null rate 100.0%, up from 50.0%"], []),
        (_stats(0, 10, None, 0.0, None), [], ["0 rows; the previous snapshot 2017-01-01 had 10"]),
        # Under 1000 rows on either side drift is noise, not news; broken data still blocks.
        (_stats(999, 1000, 0.11, 0.0, 0.9), [], []),
        (_stats(1000, 999, 0.11, 0.0, 0.9), [], []),
        (_stats(999, 999, 1.0, 0.0, None), [], ["null rate 100%"]),
        (_stats(0, 0, None, None, None), [], []),
    ],
)
def test_assess_warns_and_blocks_past_the_documented_thresholds(
    stats: dict[str, Any], warned: list[str], blocked: list[str]
) -> None:
    warnings, blocks = assess(stats, HealthThresholds())
    assert len(warnings) == len(warned) and len(blocks) == len(blocked), (warnings, blocks)
    for line, text in zip(warnings + blocks, warned + blocked, strict=True):
        assert text in line and "2017-02-01" in line, line


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("OLIST_FEATURE_PSI_WARN", "0.1", "psi_warn", 0.1),
        ("OLIST_FEATURE_NULL_RISE_WARN", "0.3", "null_rise_warn", 0.3),
        ("OLIST_FEATURE_ALL_NULL_BLOCK_BELOW", "0.9", "all_null_block_below", 0.9),
        ("OLIST_FEATURE_WARN_MIN_ROWS", "50", "warn_min_rows", 50),
    ],
)
def test_thresholds_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: float
) -> None:
    assert getattr(HealthThresholds.from_env(), field) == getattr(HealthThresholds(), field)
    monkeypatch.setenv(variable, value)
    assert getattr(HealthThresholds.from_env(), field) == expected
    monkeypatch.setenv(variable, "lots")
    with pytest.raises(ValueError, match=variable):
        HealthThresholds.from_env()


# --- the audit task: warn, block, and what publish does with the statistics -------------------


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.setenv("OLIST_LAKE_URI", str(tmp_path / "lake"))
    passed = {
        "dataset": "gold/fct_customer_return_risk_features",
        "checks": [],
        "ok": True,
        "rows": 0,
        "seconds": 0.1,
        "contract": "gold.yml",
        "errors": "",
    }
    # The Soda scan passes: what is under test is the feature-health part of the audit.
    monkeypatch.setattr(tasks, "scan", lambda runtime, prefixes, contracts: [passed])
    return LocalLake(tmp_path / "lake")


def put_build(lake: LocalLake, run_id: str, snapshots: dict[str, str]) -> None:
    for snapshot, local in snapshots.items():
        key = f"{run_build_prefix(run_id)}/{MODEL_DIR}/snapshot_date={snapshot}/data_0.parquet"
        lake.put_file(Path(local), key)


def context(run_id: str, snapshot: str = "") -> dict[str, Any]:
    xcoms = {
        "resolve_run": {
            "snapshot_date": snapshot,
            "build_prefix": run_build_prefix(run_id),
            "code_version": "code-1",
        },
        "quality_gate": {"raw_batch_id": "batch-a", "batch_build_prefix": "warehouse/batches/a"},
    }
    return {
        "ti": SimpleNamespace(xcom_pull=lambda task_ids: xcoms[task_ids], task_id="audit_gold"),
        "dag": SimpleNamespace(dag_id="return_risk_feature_store"),
        "run_id": run_id,
        "outlet_events": {tasks.FEATURE_STORE: SimpleNamespace()},
    }


def test_the_audit_warns_on_drift_and_publish_carries_the_statistics(
    lake: LocalLake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Twenty rows a snapshot keep the expected PSI countable by hand.
    monkeypatch.setenv("OLIST_FEATURE_WARN_MIN_ROWS", "20")
    shifted = [float(i + 100) for i in range(20)]
    put_build(
        lake,
        "full",
        {
            "2017-01-01": snapshot_file(tmp_path, "a", [float(i) for i in range(20)]),
            "2017-02-01": snapshot_file(tmp_path, "b", shifted),
        },
    )
    with caplog.at_level("WARNING"):
        audited = tasks.audit(context("full"))

    [warning] = audited["feature_health"]["warnings"]
    # Every value lands above the previous p90: 1.0 in the last bin against 0.1 in each bin.
    psi = term(1.0, 0.1) + 9 * term(0, 0.1)
    assert f"snapshot 2017-02-01, feature amount: PSI {psi:.3f}" in warning
    assert warning in caplog.text
    written = read_json(lake, run_feature_stats_key(run_build_prefix("full"), "2017-02-01"))
    assert written["warnings"] == [warning] and written["blocks"] == []

    tasks.publish(context("full"))
    pointer = read_current_set(lake)
    for entry in pointer["snapshots"].values():
        assert entry["stats_key"].startswith(f"{PUBLICATIONS_PREFIX}/{pointer['publication_id']}")
        assert read_json(lake, entry["stats_key"])["rows"] == 20
        assert read_json(lake, entry["manifest_key"])["stats_key"] == entry["stats_key"]
    assert read_json(lake, pointer["snapshots"]["2017-02-01"]["stats_key"])["features"]["amount"][
        "psi"
    ] == pytest.approx(psi, rel=1e-12)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        # A feature 0% null becomes entirely null.
        ([None] * 20, "snapshot 2017-02-01, feature amount: null rate 100%"),
        # A snapshot without rows after one with 20.
        ([], "snapshot 2017-02-01 has 0 rows; the previous snapshot 2017-01-01 had 20"),
    ],
)
def test_a_blocked_full_refresh_fails_the_audit_and_publishes_nothing(
    lake: LocalLake, tmp_path: Path, second: list[Any], message: str
) -> None:
    build(lake, "old", {"2016-12-01": 3}, "batch-a", tmp_path / "old")
    publish(lake, "old", "batch-a", full_refresh=True)
    before = lake.read_bytes(FEATURE_STORE_POINTER_KEY)
    publications = lake.list(PUBLICATIONS_PREFIX)
    put_build(
        lake,
        "full",
        {
            "2017-01-01": snapshot_file(tmp_path, "a", [float(i) for i in range(20)]),
            "2017-02-01": snapshot_file(tmp_path, "b", second),
        },
    )

    with pytest.raises(AirflowFailException, match="nothing published") as failed:
        tasks.audit(context("full"))

    assert message in str(failed.value)
    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == before
    assert lake.list(PUBLICATIONS_PREFIX) == publications


def test_a_monthly_snapshot_without_rows_blocks_against_the_published_one(
    lake: LocalLake, tmp_path: Path
) -> None:
    put_build(lake, "full", {"2017-01-01": snapshot_file(tmp_path, "a", [1.0, 2.0, None])})
    tasks.audit(context("full"))
    tasks.publish(context("full"))
    put_build(lake, "monthly", {"2017-02-01": snapshot_file(tmp_path, "b", [])})

    with pytest.raises(AirflowFailException) as failed:
        tasks.audit(context("monthly", snapshot="2017-02-01"))

    assert "snapshot 2017-02-01 has 0 rows; the previous snapshot 2017-01-01 had 3" in str(
        failed.value
    )


def test_publish_fails_before_the_flip_when_stats_cannot_be_written_or_do_not_match(
    lake: LocalLake, tmp_path: Path
) -> None:
    build(lake, "old", {"2017-01-01": 3}, "batch-a", tmp_path / "old")
    publish(lake, "old", "batch-a", full_refresh=True)
    before = lake.read_bytes(FEATURE_STORE_POINTER_KEY)
    put_build(lake, "new", {"2017-01-01": snapshot_file(tmp_path, "a", [1.0, 2.0])})
    tasks.audit(context("new"))

    # Writes of a snapshot: its file, its statistics, its manifest; write 1 is the statistics.
    with pytest.raises(OSError, match="disk full"):
        publish(FailingLake(lake, 1, OSError("disk full")), "new", "batch-a", full_refresh=True)
    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == before

    # The build changed after the audit: its statistics describe other rows.
    put_build(lake, "new", {"2017-01-01": snapshot_file(tmp_path, "b", [1.0, 2.0, 3.0])})
    with pytest.raises(RuntimeError, match="changed after the gold audit"):
        publish(lake, "new", "batch-a", full_refresh=True)
    assert lake.read_bytes(FEATURE_STORE_POINTER_KEY) == before

"""Deterministic output: the same raw batch and code write byte-identical Parquet.

Two builds of the same input once wrote 548.43 and 548.4300000000001 (DOUBLE sums added in
whatever order DuckDB's parallel aggregation met the rows) and rows in thread-dependent order.
The models sum DOUBLEs with exact_sum() / exact_avg() (macros/exact_sum.sql) and the
lake_parquet materialization writes sorted rows (macros/lake_parquet.sql).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import jinja2
import pytest

from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR, FEATURE_STORE_MODEL
from tests.dbt.helpers import Lake

PUBLISHED = (FEATURE_STORE_MODEL, "customer_risk_tiers")


def parquet_hashes(warehouse: str) -> dict[str, str]:
    root = Path(warehouse)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.parquet"))
    }


def test_two_builds_of_the_same_input_write_identical_parquet(
    generated_lake: Lake, tmp_path: Path
) -> None:
    """A second build of the session's generated batch, into a fresh build root, in a new
    process with an empty DuckDB: every Parquet file of every layer has the same bytes.
    (Before the fix, on this data, the row order of the gold models and slv_order_reviews
    differed from build to build; at scale 1 the DOUBLE sums differed too.)"""
    again = Lake(
        csv_dir=generated_lake.csv_dir,
        lake_root=generated_lake.lake_root,
        batch_id=generated_lake.batch_id,
        work_dir=tmp_path / "dbt",
        build_root=str(tmp_path / "warehouse"),
    )
    again.dbt("run")

    first = parquet_hashes(generated_lake.warehouse)
    second = parquet_hashes(again.warehouse)
    for model in PUBLISHED:
        assert any(name.startswith(f"gold/{model}/snapshot_date=") for name in first), model
    assert sorted(second) == sorted(first)
    assert [name for name in first if first[name] != second[name]] == []


def render_macro(call: str) -> str:
    """A macro of macros/exact_sum.sql rendered outside dbt (it uses plain Jinja only)."""
    source = (DBT_PROJECT_DIR / "macros" / "exact_sum.sql").read_text()
    return jinja2.Environment().from_string(source + "{{ " + call + " }}").render().strip()


# payment values whose DOUBLE sum depends on the order they are added in
VALUES = [0.1, 0.2, 0.3, 548.43, 99.99, 0.07]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("exact_sum('x')", sum(round(v * 100) for v in VALUES) / 100),
        ("exact_avg('x')", None),
    ],
)
def test_exact_aggregates_do_not_depend_on_row_order(call: str, expected: float | None) -> None:
    con = duckdb.connect()
    con.execute("set threads = 1")  # one thread: rows are added in the order given
    con.execute("create table ordered as select * from unnest($1::double[]) as t (x)", [VALUES])
    con.execute(
        "create table reversed as select * from unnest($1::double[]) as t (x)",
        [list(reversed(VALUES))],
    )
    # the data is order-sensitive: a plain DOUBLE sum differs between the two orders
    plain = [con.execute(f"select sum(x) from {t}").fetchone()[0] for t in ("ordered", "reversed")]
    assert plain[0] != plain[1]

    expression = render_macro(call)
    results = [
        con.execute(f"select {expression} from {t}").fetchone()[0] for t in ("ordered", "reversed")
    ]
    assert results[0] == results[1]
    assert isinstance(results[0], float)
    if expected is not None:
        assert results[0] == expected  # the correctly rounded sum of the money values


def test_running_exact_sum_does_not_depend_on_row_order() -> None:
    """A window over peers (a running sum whose bucket ties) adds them in row order."""
    con = duckdb.connect()
    con.execute("set threads = 1")
    totals: dict[str, list[set]] = {}
    for name, expression in (
        ("plain", "sum(x) over (order by k)"),
        ("exact", render_macro("exact_sum('x', over='(order by k)')")),
    ):
        totals[name] = [
            {
                row[0]
                for row in con.execute(
                    f"select {expression} from unnest($1::double[]) as t (x), (select 1 as k)",
                    [values],
                ).fetchall()
            }
            for values in (VALUES, list(reversed(VALUES)))
        ]
    assert totals["plain"][0] != totals["plain"][1]
    assert totals["exact"][0] == totals["exact"][1] == {649.09}

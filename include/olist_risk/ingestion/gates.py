"""Batch-level gates: what must hold across a batch's tables before it becomes current.

Each file was validated on its own when it was staged (header, types, keys unique within the
file). These checks need the whole batch, and the current one, so `publish_batch` runs them
on the staged Parquet just before it would move the pointer:

- **Row counts against the current batch.** A table that shrinks by more than
  `max_row_shrink` (a share of the current batch's rows, `OLIST_MAX_ROW_SHRINK`, default 0.10)
  holds the batch: a partial export looks like a valid file, and publishing it would make
  most customers' history vanish. A deliberate shrink is accepted with the `accept_shrink`
  override (the ingestion DAG's param of that name).
- **Referential integrity.** Rows of items, payments and reviews must name an order of the
  batch, and orders a customer of the batch. FEATURES.md section 1 says orders without a
  customer and reviews of such orders are ignored, so a few are data, not breakage; a share of
  orphan rows above `max_orphan_share` (`OLIST_MAX_ORPHAN_SHARE`, default 0.01) holds the batch,
  as a delivery where tables come from different exports. Items whose product or seller is
  missing are counted, never held: the spec counts such items with no category.

Whatever the outcome, the counts go into the batch manifest (`gates`); a held batch gets them,
with the reasons, in `held.json` beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import table_key
from include.olist_risk.lake.storage import Lake

EXAMPLES = 5


@dataclass(frozen=True)
class GateLimits:
    """The thresholds (shares, 0..1) and the operator's override for this publish."""

    max_row_shrink: float = 0.10
    max_orphan_share: float = 0.01
    accept_shrink: bool = False


@dataclass(frozen=True)
class Reference:
    """`child.column` must name a row of `parent.parent_column`; `holds` False: only counted."""

    child: str
    column: str
    parent: str
    parent_column: str
    holds: bool = True

    @property
    def name(self) -> str:
        return f"{self.child}.{self.column} -> {self.parent}.{self.parent_column}"


REFERENCES = (
    Reference("order_items", "order_id", "orders", "order_id"),
    Reference("order_payments", "order_id", "orders", "order_id"),
    Reference("order_reviews", "order_id", "orders", "order_id"),
    Reference("orders", "customer_id", "customers", "customer_id"),
    # FEATURES.md section 1: items whose product is missing count with no category.
    Reference("order_items", "product_id", "products", "product_id", holds=False),
    Reference("order_items", "seller_id", "sellers", "seller_id", holds=False),
)


def _percent(share: float) -> str:
    return f"{share:.1%}"


def row_count_problems(
    current: dict[str, int], previous: dict[str, int], limits: GateLimits
) -> tuple[dict, list[dict]]:
    """Compare each table's rows with the current batch's: (record, problems)."""
    record, problems = {}, []
    for table, rows in sorted(current.items()):
        before = previous.get(table)
        entry = {"previous": before, "current": rows}
        if before:
            shrink = (before - rows) / before
            entry["shrink"] = round(max(shrink, 0.0), 6)
            if shrink > limits.max_row_shrink:
                problems.append(
                    {
                        "gate": "row_count",
                        "table": table,
                        "message": f"{table} shrinks from {before} rows in the current batch to "
                        f"{rows} ({_percent(shrink)} fewer, more than the "
                        f"{_percent(limits.max_row_shrink)} allowed)",
                    }
                )
        record[table] = entry
    return record, problems


def orphan_counts(
    lake: Lake, batch_id: str, credentials: S3Credentials | None = None
) -> dict[str, dict]:
    """Per reference: rows, orphan rows, their share and the first few orphan values."""
    tables = sorted({t for r in REFERENCES for t in (r.child, r.parent)})
    counts = {}
    with connect(credentials=credentials) as con:
        for table in tables:
            # A relation, not SQL text: the lake path is a parameter, never quoted into SQL.
            con.read_parquet(lake.uri(table_key(table, batch_id))).create_view(table)
        for ref in REFERENCES:
            orphans = (
                f'from {ref.child} c where c."{ref.column}" is not null and not exists '
                f'(select 1 from {ref.parent} p where p."{ref.parent_column}" = c."{ref.column}")'
            )
            rows = con.execute(f"select count(*) from {ref.child}").fetchone()[0]
            orphan_rows = con.execute(f"select count(*) {orphans}").fetchone()[0]
            examples = con.execute(
                f'select c."{ref.column}", count(*) as n {orphans} '
                f"group by 1 order by n desc, 1 limit {EXAMPLES}"
            ).fetchall()
            counts[ref.name] = {
                "rows": rows,
                "orphan_rows": orphan_rows,
                "share": round(orphan_rows / rows, 6) if rows else 0.0,
                "holds_batch": ref.holds,
                "examples": [{"value": value, "rows": n} for value, n in examples],
            }
    return counts


def orphan_problems(counts: dict[str, dict], limits: GateLimits) -> list[dict]:
    problems = []
    for ref in REFERENCES:
        found = counts[ref.name]
        share = found["orphan_rows"] / found["rows"] if found["rows"] else 0.0
        if ref.holds and share > limits.max_orphan_share:
            examples = ", ".join(
                f"{e['value']!r} ({e['rows']} row{'' if e['rows'] == 1 else 's'})"
                for e in found["examples"]
            )
            problems.append(
                {
                    "gate": "orphans",
                    "table": ref.child,
                    "column": ref.column,
                    "message": f"{ref.child}.{ref.column}: {found['orphan_rows']} of "
                    f"{found['rows']} rows ({_percent(share)}, more than the "
                    f"{_percent(limits.max_orphan_share)} allowed) name a {ref.column} that is "
                    f"not in {ref.parent}.{ref.parent_column}, e.g. {examples}",
                }
            )
    return problems


def check_batch(
    lake: Lake,
    batch_id: str,
    rows: dict[str, int],
    previous: dict | None,
    limits: GateLimits,
    credentials: S3Credentials | None = None,
) -> tuple[dict, list[dict]]:
    """Run every gate on a staged batch: (the record for the manifest, what holds it back).

    Each problem is `{"gate", "table", ["column"], "message"}`; shrinks are not problems when
    `limits.accept_shrink` is set, and the record lists them as accepted instead.

    `previous` is the current batch's manifest, or None for the first batch.
    """
    before = {name: part["rows"] for name, part in (previous or {}).get("tables", {}).items()}
    row_counts, shrinks = row_count_problems(rows, before, limits)
    orphans = orphan_counts(lake, batch_id, credentials)
    record = {
        "previous_batch_id": (previous or {}).get("batch_id"),
        "limits": {
            "max_row_shrink": limits.max_row_shrink,
            "max_orphan_share": limits.max_orphan_share,
        },
        "row_counts": row_counts,
        "accepted_shrink": [p["message"] for p in shrinks] if limits.accept_shrink else [],
        "orphans": orphans,
    }
    problems = ([] if limits.accept_shrink else shrinks) + orphan_problems(orphans, limits)
    return record, problems

"""Feature values against an independent plain-Python reference computed from the CSVs."""

from __future__ import annotations

from pathlib import Path

from tests.dbt.compare import diff_rows
from tests.dbt.helpers import Lake, read_features, snapshots_of
from tests.dbt.reference import Reference

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def interesting_customers(reference: Reference, count: int = 8) -> list[str]:
    """People with several orders, reviews and a post-approval cancellation, best first."""

    def score(uid: str) -> tuple:
        orders = reference.by_person[uid]
        return (
            any(o["is_cancel"] for o in orders),
            sum(len(o["reviews"]) for o in orders) > 1,
            any(o["delivered"] for o in orders),
            len(orders),
            uid,
        )

    return sorted(reference.by_person, key=score, reverse=True)[:count]


def test_interesting_customers_match_the_reference_in_every_snapshot(
    generated_lake: Lake,
) -> None:
    reference = Reference(generated_lake.csv_dir, SEEDS)
    chosen = interesting_customers(reference)
    assert any(o["is_cancel"] for uid in chosen for o in reference.by_person[uid])
    assert max(len(reference.by_person[uid]) for uid in chosen) >= 3
    actual = read_features(generated_lake.warehouse)
    expected = {}
    for snapshot in snapshots_of(generated_lake.warehouse):
        for uid in chosen:
            row = reference.features(uid, snapshot)
            if row is not None:
                expected[(uid, snapshot)] = row
    assert len(expected) > 20
    picked = {key: row for key, row in actual.items() if key[0] in chosen}
    assert diff_rows(expected, picked) == []


def test_generated_snapshots_match_the_reference_for_every_customer(generated_lake: Lake) -> None:
    reference = Reference(generated_lake.csv_dir, SEEDS)
    snapshots = snapshots_of(generated_lake.warehouse)
    for snapshot in (snapshots[len(snapshots) // 2], snapshots[-1]):
        expected = {(uid, snapshot): row for uid, row in reference.snapshot(snapshot).items()}
        assert diff_rows(expected, read_features(generated_lake.warehouse, snapshot)) == []


def test_edge_case_dataset_matches_the_reference_in_every_snapshot(synthetic_lake: Lake) -> None:
    """Zip quirks, NULL ids, several reviews per order, unknown centroids and sellers."""
    reference = Reference(synthetic_lake.csv_dir, SEEDS)
    actual = read_features(synthetic_lake.warehouse)
    expected = {}
    for snapshot in snapshots_of(synthetic_lake.warehouse):
        expected.update({(uid, snapshot): row for uid, row in reference.snapshot(snapshot).items()})
    assert diff_rows(expected, actual) == []
    edge = {key[1]: row for key, row in actual.items() if key[0] == "person9999"}
    from datetime import date

    june = edge[date(2017, 6, 1)]
    # orders at exactly S - 30d, S - 7d and S - 24h are in; the one at S is not in O(S)
    assert (june["total_orders_lifetime"], june["orders_last_30d"]) == (3, 3)
    assert (june["orders_last_7d"], june["orders_last_24h"]) == (2, 1)


def test_the_full_refresh_covers_the_spec_range(generated_lake: Lake) -> None:
    reference = Reference(generated_lake.csv_dir, SEEDS)
    purchases = [o["purchase"] for o in reference.orders.values()]

    def bucket(ts):
        from datetime import date

        return date(ts.year + ts.month // 12, ts.month % 12 + 1, 1)

    snapshots = snapshots_of(generated_lake.warehouse)
    assert snapshots[0] == bucket(min(purchases))
    assert snapshots[-1] == bucket(max(purchases))
    months = [(s.year * 12 + s.month) for s in snapshots]
    assert months == list(range(months[0], months[-1] + 1))

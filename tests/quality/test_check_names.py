"""Report names say what a check checks; a contract's own name wins over Soda's generic one."""

from __future__ import annotations

import pytest

from include.olist_risk.quality.check_names import describe, threshold_text


@pytest.mark.parametrize(
    ("check_type", "column", "definition", "expected"),
    [
        (
            "missing",
            "seller_id",
            "columns:\n- name: seller_id\n  checks:\n  - {}\n",
            "seller_id is never missing",
        ),
        (
            "invalid",
            "price",
            "columns:\n- name: price\n  checks:\n  - valid_min: 0\n",
            "price >= 0",
        ),
        (
            "invalid",
            "score",
            "columns:\n- name: score\n  checks:\n  - valid_max: 5\n",
            "score <= 5",
        ),
        (
            "invalid",
            "rate",
            "columns:\n- name: rate\n  checks:\n  - valid_min: 0\n    valid_max: 1\n",
            "rate between 0 and 1",
        ),
        (
            "invalid",
            "status",
            "columns:\n- name: status\n  checks:\n  - valid_values: [a, b]\n",
            "status in (a, b)",
        ),
        (
            "invalid",
            "zip",
            "columns:\n- name: zip\n  checks:\n  - valid_min_length: 5\n    valid_max_length: 5\n",
            "zip has exactly 5 characters",
        ),
        (
            "invalid",
            "customer_id",
            "columns:\n- name: customer_id\n  checks:\n  - valid_reference_data:\n"
            "      dataset: olist_lake/silver/customers\n      column: id\n",
            "customer_id exists in olist_lake/silver/customers.id",
        ),
        (
            "duplicate",
            "order_id",
            "columns:\n- name: order_id\n  checks:\n  - {}\n",
            "order_id has no duplicates",
        ),
        (
            "row_count",
            None,
            "checks:\n- threshold:\n    must_be_greater_than: 0\n",
            "row count > 0",
        ),
    ],
)
def test_a_generic_soda_name_is_replaced_by_what_the_check_checks(
    check_type: str, column: str | None, definition: str, expected: str
) -> None:
    generic = {
        "missing": "No missing values",
        "invalid": "No invalid values",
        "duplicate": "No duplicate values",
        "row_count": "Row count meets expected threshold",
    }[check_type]

    assert describe(generic, check_type, column, definition) == expected


def test_a_name_given_in_the_contract_is_kept() -> None:
    definition = "columns:\n- name: x\n  checks:\n  - name: x is sane\n    valid_min: 0\n"

    assert describe("x is sane", "invalid", "x", definition) == "x is sane"


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"must_be": 0}, "= 0"),
        ({"must_be_greater_than": 0}, "> 0"),
        ({"must_be_greater_than_or_equal": 1, "must_be_less_than_or_equal": 5}, ">= 1 and <= 5"),
        (None, ""),
    ],
)
def test_threshold_text_is_compact(bounds: dict | None, expected: str) -> None:
    assert threshold_text(bounds) == expected

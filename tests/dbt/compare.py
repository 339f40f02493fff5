"""Row comparison with FEATURES.md section 6 tolerances."""

from __future__ import annotations

import math

MONEY = {"total_spent_last_30d"}
FLOATS = {
    "cancel_rate_lifetime",
    "avg_review_score",
    "low_review_on_delivered_rate",
    "no_review_rate",
    "avg_customer_seller_distance_km",
    "max_geographic_velocity_kmh",
    "credit_card_payment_share",
    "payment_method_risk_avg",
    "category_risk_prior_avg",
}


def value_mismatch(column: str, left, right) -> bool:
    if left is None or right is None:
        return not (left is None and right is None)
    if isinstance(left, float) and math.isnan(left):
        return not (isinstance(right, float) and math.isnan(right))
    if column in MONEY:
        return abs(left - right) > 1e-4
    if column in FLOATS:
        return abs(left - right) > 1e-6
    return left != right


def diff_rows(expected: dict[tuple, dict], actual: dict[tuple, dict], limit: int = 20) -> list[str]:
    problems = []
    for key in sorted(set(expected) ^ set(actual), key=str)[:limit]:
        problems.append(f"key {key}: only in {'expected' if key in expected else 'actual'}")
    for key in sorted(set(expected) & set(actual), key=str):
        for column, value in expected[key].items():
            if value_mismatch(column, value, actual[key].get(column)):
                problems.append(
                    f"{key} {column}: expected {value!r}, got {actual[key].get(column)!r}"
                )
                if len(problems) >= limit:
                    return problems
    return problems

"""Names that say what a Soda check checks, and its threshold in a few characters.

Soda names every check of a type alike ("No invalid values", "Row count meets expected
threshold"), so a report listing twenty of them says nothing. A check's own `name:` in the
contract wins; otherwise the name is written from the check's definition, e.g.
`price >= 0`, `order_status in (delivered, shipped)`, `row count > 0`.
"""

from __future__ import annotations

from typing import Any

import yaml

SODA_DEFAULT_NAMES = {
    "No invalid values",
    "No missing values",
    "No duplicate values",
    "Row count meets expected threshold",
}

_THRESHOLD_SIGNS = (
    ("must_be", "="),
    ("must_not_be", "!="),
    ("must_be_greater_than", ">"),
    ("must_be_greater_than_or_equal", ">="),
    ("must_be_less_than", "<"),
    ("must_be_less_than_or_equal", "<="),
)


def threshold_text(threshold: Any) -> str:
    """`= 0`, `> 0`, `>= 1 and <= 5`: a Soda Threshold (or a dict of its bounds), compactly."""
    if threshold is None:
        return ""
    bounds = threshold if isinstance(threshold, dict) else vars(threshold)
    return " and ".join(
        f"{sign} {bounds[key]}" for key, sign in _THRESHOLD_SIGNS if bounds.get(key) is not None
    )


def _check_config(definition: str) -> dict[str, Any]:
    """The check's own settings from the YAML fragment Soda keeps as its definition."""
    parsed = yaml.safe_load(definition) or {}
    entries = parsed["columns"][0]["checks"] if "columns" in parsed else parsed.get("checks", [])
    config = entries[0] if entries else {}
    return config if isinstance(config, dict) else {}


def _invalid_rule(column: str, config: dict[str, Any]) -> str:
    if "valid_values" in config:
        return f"{column} in ({', '.join(map(str, config['valid_values']))})"
    if "valid_reference_data" in config:
        reference = config["valid_reference_data"]
        return f"{column} exists in {reference['dataset']}.{reference['column']}"
    low, high = config.get("valid_min"), config.get("valid_max")
    if low is not None and high is not None:
        return f"{column} between {low} and {high}"
    if low is not None:
        return f"{column} >= {low}"
    if high is not None:
        return f"{column} <= {high}"
    low, high = config.get("valid_min_length"), config.get("valid_max_length")
    if low is not None and low == high:
        return f"{column} has exactly {low} characters"
    if low is not None or high is not None:
        return f"{column} has {low or 0}..{high or 'any'} characters"
    if "valid_format" in config or "valid_regex_sql" in config:
        return f"{column} matches {config.get('valid_format') or config['valid_regex_sql']}"
    return f"{column} is valid"


def describe(name: str | None, check_type: str, column: str | None, definition: str) -> str:
    """The check's name for reports: its contract name, else what its definition checks."""
    if name and name not in SODA_DEFAULT_NAMES:
        return name
    config = _check_config(definition)
    subject = column or "dataset"
    if check_type == "missing":
        return f"{subject} is never missing"
    if check_type == "duplicate":
        return f"{subject} has no duplicates"
    if check_type == "invalid":
        return _invalid_rule(subject, config)
    if check_type == "row_count":
        bounds = threshold_text(config.get("threshold"))
        return f"row count {bounds}" if bounds else "row count"
    return name or check_type

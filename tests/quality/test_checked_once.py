"""Each property of a table is checked once per pipeline run: by a dbt test that runs in the
DAG's layer builds or by a Soda contract of the quality gate or the gold audit, not both; and
Soda does not re-check a column domain ingestion already enforced on the delivered file.

Tests tagged `upstream_content` are excluded from the DAG's builds (the Soda gate checks the
delivered data's content instead), so only the other dbt tests count here.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from include.olist_risk.olist.tables import TABLES
from include.olist_risk.quality.verify import contracts_for
from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR

Property = tuple[str, str, str]  # (model, column(s) or "", what is checked)

SODA_COLUMN_CHECKS = {
    "valid_reference_data": "relationship",
    "valid_values": "accepted_values",
    "valid_min": "range",
    "valid_max": "range",
    "valid_min_length": "length",
    "valid_max_length": "length",
}
DBT_TESTS = {
    "not_null": "not_null",
    "unique": "unique",
    "relationships": "relationship",
    "accepted_values": "accepted_values",
    "olist_in_range": "range",
    "olist_unique_combination": "unique",
    "olist_min_row_count": "row_count",
}


def soda_properties(contracts: list[Path]) -> set[Property]:
    found: set[Property] = set()
    for path in contracts:
        contract = yaml.safe_load(path.read_text())
        model = contract["dataset"].rsplit("/", 1)[1]
        for column in contract.get("columns") or []:
            name = column["name"]
            if "data_type" in column:
                found.add((model, name, "type"))
            for check in column.get("checks") or []:
                [(kind, spec)] = check.items()
                if kind == "missing":
                    found.add((model, name, "not_null"))
                elif kind == "duplicate":
                    found.add((model, name, "unique"))
                for key, what in SODA_COLUMN_CHECKS.items():
                    if key in (spec or {}):
                        found.add((model, name, what))
        for check in contract.get("checks") or []:
            [(kind, spec)] = check.items()
            if kind == "duplicate":
                found.add((model, ",".join(spec["columns"]), "unique"))
            elif kind in ("row_count", "schema"):
                found.add((model, "", kind))
    return found


def dbt_properties(manifest: dict) -> set[Property]:
    """What the DAG's dbt builds check: enforced contracts and tests not left to Soda."""
    found: set[Property] = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["config"]["contract"]["enforced"]:
            found.add((node["name"], "", "schema"))
            found.update((node["name"], column, "type") for column in node["columns"])
        if node["resource_type"] != "test" or "upstream_content" in node["tags"]:
            continue
        metadata = node.get("test_metadata") or {}
        what = DBT_TESTS.get(metadata.get("name", ""))
        model = (node.get("attached_node") or "").rsplit(".", 1)[-1]
        if what is None or not model:
            continue
        columns = metadata["kwargs"].get("columns")
        found.add((model, ",".join(columns) if columns else node["column_name"] or "", what))
    return found


def ingestion_properties() -> set[Property]:
    """What staging refuses a file for, named as the silver model that keeps the column."""
    found: set[Property] = set()
    for table in TABLES.values():
        model = f"slv_{table.name}"
        for column in table.columns:
            if not column.nullable:
                found.add((model, column.name, "not_null"))
            if column.minimum is not None or column.maximum is not None:
                found.add((model, column.name, "range"))
        if table.key:
            found.add((model, ",".join(table.key), "unique"))
    return found


def test_soda_does_not_recheck_what_ingestion_refuses() -> None:
    soda = soda_properties(contracts_for("silver"))
    ingestion = ingestion_properties()

    assert soda & ingestion == set()
    assert ("slv_order_reviews", "review_score", "range") in ingestion
    assert ("slv_order_items", "price", "range") in ingestion


def test_the_dag_checks_no_property_twice() -> None:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    soda = soda_properties(contracts_for("silver") + contracts_for("gold"))
    dbt = dbt_properties(manifest)

    assert soda & dbt == set()
    # both sides are read: keys are dbt's, the delivered data's content is Soda's
    assert ("slv_orders", "order_id", "unique") in dbt
    assert ("fct_customer_return_risk_features", "", "schema") in dbt
    assert ("slv_order_payments", "payment_type", "accepted_values") in soda
    assert ("fct_customer_return_risk_features", "cancel_rate_lifetime", "range") in soda


def test_a_property_in_both_a_contract_and_a_dbt_test_is_found(tmp_path: Path) -> None:
    contract = tmp_path / "slv_orders.yml"
    contract.write_text(
        "dataset: olist_lake/silver/slv_orders\n"
        "columns:\n  - name: order_id\n    checks:\n      - duplicate:\n"
    )
    manifest = {
        "nodes": {
            "test.olist_risk.unique_slv_orders_order_id": {
                "resource_type": "test",
                "tags": [],
                "attached_node": "model.olist_risk.slv_orders",
                "column_name": "order_id",
                "test_metadata": {"name": "unique", "kwargs": {}},
            }
        }
    }

    assert soda_properties([contract]) & dbt_properties(manifest) == {
        ("slv_orders", "order_id", "unique")
    }

"""Soda contracts on real dbt output: clean data passes, broken upstream data is named."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from include.olist_risk.config import load_settings
from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.runtime import Runtime
from include.olist_risk.lake.storage import LocalLake, read_json
from include.olist_risk.quality.reports import failing_checks, write_reports
from include.olist_risk.quality.verify import contracts_for, scan
from tests.ingestion.conftest import write_batch
from tests.quality.conftest import build

UPSTREAM = ["path:models/bronze", "path:models/silver"]


def runtime_for(lake: LocalLake) -> Runtime:
    return Runtime(settings=load_settings(), credentials=None, lake=lake, landing=lake)


@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory: pytest.TempPathFactory) -> LocalLake:
    root = tmp_path_factory.mktemp("clean")
    lake = LocalLake(root / "lake")
    batch_id = ingest_folder(LocalLake(write_batch(root / "landing")), lake)
    build(
        lake, batch_id, "warehouse/runs/clean", root, [*UPSTREAM, "path:models/gold", "path:seeds"]
    )
    return lake


def test_silver_contracts_pass_on_clean_data(clean_lake: LocalLake) -> None:
    results = scan(runtime_for(clean_lake), ["warehouse/runs/clean"], contracts_for("silver"))

    assert {r["dataset"].split("/")[-1] for r in results} == {
        path.stem for path in contracts_for("silver")
    }
    assert [line for r in results for line in failing_checks(r)] == []


def test_gold_contract_passes_on_the_built_feature_store(clean_lake: LocalLake) -> None:
    [result] = scan(runtime_for(clean_lake), ["warehouse/runs/clean"], contracts_for("gold"))

    assert result["ok"], failing_checks(result)
    assert {check["type"] for check in result["checks"]} >= {"missing", "invalid", "row_count"}


def test_broken_upstream_fails_the_checks_that_target_it(tmp_path: Path) -> None:
    # Values ingestion cannot judge (it checks types, not business vocabularies).
    landing = write_batch(tmp_path / "landing")
    orders = landing / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text().replace("o3,c3,canceled,", "o3,c3,teleported,"))
    payments = landing / "olist_order_payments_dataset.csv"
    payments.write_text(payments.read_text().replace("o2,2,voucher,", "o2,2,seashells,"))
    lake = LocalLake(tmp_path / "lake")
    build(
        lake, ingest_folder(LocalLake(landing), lake), "warehouse/runs/broken", tmp_path, UPSTREAM
    )

    results = scan(runtime_for(lake), ["warehouse/runs/broken"], contracts_for("silver"))

    failures = [line for r in results for line in failing_checks(r)]
    assert len(failures) == 2, failures
    assert any(
        "slv_orders.order_status: order_status in (delivered, shipped," in f
        and "measured 1 (expected = 0)" in f
        for f in failures
    ), failures
    assert any(
        "slv_order_payments.payment_type: payment_type in (credit_card," in f for f in failures
    ), failures


def test_reports_land_in_the_lake_as_json_and_markdown(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    result = {
        "dataset": "olist_lake/silver/slv_orders",
        "contract": "slv_orders.yml",
        "rows": 10,
        "ok": False,
        "errors": "",
        "seconds": 0.1,
        "checks": [
            {
                "name": "No missing values",
                "type": "missing",
                "column": "order_id",
                "outcome": "passed",
                "metrics": {"missing_count": 0},
            },
            {
                "name": "every order's customer_id is in customers",
                "type": "invalid",
                "column": "customer_id",
                "outcome": "failed",
                "value": 3,
                "threshold": "= 0",
                "metrics": {"invalid_count": 3},
            },
        ],
    }
    context = {
        "dag_id": "d",
        "run_id": "manual__2018-06-01T00:00:00+00:00",
        "task_id": "t",
        "raw_batch_id": "b1",
    }

    [link] = write_reports(lake, [result], context)

    assert link.endswith("dataset=silver.slv_orders/scan.md")
    markdown = Path(link).read_text()
    assert "FAILED" in markdown and "invalid_count=3" in markdown
    # summary: dataset, rows, 2 checks of which 1 passed, 1 failed, 0 warned; the raw batch
    assert "| `olist_lake/silver/slv_orders` | 10 | 2 | 1 | 1 | 0 | 0.1 | `b1` |" in markdown
    table = markdown.split("## All checks")[1]
    assert table.index("| failed |") < table.index("| passed |")
    assert "customer_id: every order's customer_id is in customers (failed): measured 3 " in (
        markdown
    )
    report = read_json(lake, str(Path(link).relative_to(lake.path).with_name("scan.json")))
    assert report["run_id"] == context["run_id"] and report["ok"] is False
    assert json.dumps(report)


def test_gold_contract_fails_on_an_out_of_range_rate_and_a_missing_value(
    clean_lake: LocalLake,
) -> None:
    source = Path(clean_lake.uri("warehouse/runs/clean/gold/fct_customer_return_risk_features"))
    target = Path(clean_lake.uri("warehouse/runs/tampered/gold/fct_customer_return_risk_features"))
    partition = sorted(source.glob("snapshot_date=*"))[-1]
    (target / partition.name).mkdir(parents=True)
    duckdb.sql(
        f"""
        copy (
            select * replace (
                1.5 as cancel_rate_lifetime,
                cast(null as integer) as orders_last_7d
            )
            from read_parquet('{partition}/*.parquet')
        ) to '{target / partition.name / "data_0.parquet"}' (format parquet)
        """
    )

    [result] = scan(runtime_for(clean_lake), ["warehouse/runs/tampered"], contracts_for("gold"))

    failures = failing_checks(result)
    assert not result["ok"]
    assert any(".cancel_rate_lifetime:" in line for line in failures), failures
    assert any(".orders_last_7d:" in line for line in failures), failures

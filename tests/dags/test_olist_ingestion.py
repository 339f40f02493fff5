"""The ingestion DAG end to end with `dag.test()`: local-folder lake and S3 lake (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import POINTER_KEY
from include.olist_risk.lake.storage import S3Lake, read_json
from tests.ingestion.conftest import ROWS, write_batch
from tests.isolation import PROJECT_ROOT


def run_ingestion(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], conf: dict | None = None):
    from airflow.dag_processing.dagbag import DagBag

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dag = DagBag(str(PROJECT_ROOT / "dags")).get_dag("olist_ingestion")
    return dag.test(run_conf=conf)


def test_ingestion_dag_lands_batch_in_local_lake_and_catalog(
    airflow_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    landing = write_batch(tmp_path / "landing")
    catalog = tmp_path / "warehouse" / "olist.duckdb"

    run = run_ingestion(
        monkeypatch,
        {
            "OLIST_LANDING_URI": str(landing),
            "OLIST_LAKE_URI": str(tmp_path / "lake"),
            "OLIST_CATALOG_PATH": str(catalog),
        },
    )

    assert run.state == "success"
    assert (tmp_path / "lake" / POINTER_KEY).exists()
    with duckdb.connect(str(catalog), read_only=True) as con:
        for table, rows in ROWS.items():
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == len(rows)


def test_ingestion_dag_lands_batch_on_s3_through_aws_default(
    airflow_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_bucket: str, moto_endpoint
) -> None:
    credentials = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    client = credentials.boto3_client()
    for path in write_batch(tmp_path / "files").iterdir():
        client.upload_file(str(path), s3_bucket, f"landing/2017-01/{path.name}")

    run = run_ingestion(
        monkeypatch,
        {
            # The delivery's own prefix: subfolders of the landing zone are not searched.
            "OLIST_LANDING_URI": f"s3://{s3_bucket}/landing/2017-01",
            "OLIST_LAKE_URI": f"s3://{s3_bucket}/lake",
            "OLIST_CATALOG_PATH": str(tmp_path / "olist.duckdb"),
        },
    )

    assert run.state == "success"
    lake = S3Lake(f"s3://{s3_bucket}/lake", client)
    manifest = read_json(lake, read_json(lake, POINTER_KEY)["manifest"])
    assert {name: part["rows"] for name, part in manifest["tables"].items()} == {
        name: len(rows) for name, rows in ROWS.items()
    }
    assert lake.exists("catalog/olist.duckdb")


def test_ingestion_dag_fails_on_bad_file_and_keeps_published_batch(
    airflow_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake_dir = tmp_path / "lake"
    env = {"OLIST_LAKE_URI": str(lake_dir), "OLIST_CATALOG_PATH": str(tmp_path / "c.duckdb")}
    good = write_batch(tmp_path / "good")
    assert run_ingestion(monkeypatch, {**env, "OLIST_LANDING_URI": str(good)}).state == "success"
    pointer = (lake_dir / POINTER_KEY).read_bytes()

    bad = write_batch(tmp_path / "bad")
    items = bad / "olist_order_items_dataset.csv"
    items.write_text(items.read_text().replace("59.90,10.50", "cheap,10.50", 1))
    run = run_ingestion(monkeypatch, {**env, "OLIST_LANDING_URI": str(bad)})

    assert run.state == "failed"
    assert (lake_dir / POINTER_KEY).read_bytes() == pointer
    reasons = list((lake_dir / "quarantine").rglob("*.reason.json"))
    assert [p.name for p in reasons] == ["olist_order_items_dataset.csv.reason.json"]
    assert "column 'price'" in reasons[0].read_text()


def test_a_shrinking_delivery_is_held_until_triggered_with_accept_shrink(
    airflow_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake_dir = tmp_path / "lake"
    env = {"OLIST_LAKE_URI": str(lake_dir), "OLIST_CATALOG_PATH": str(tmp_path / "c.duckdb")}
    full = write_batch(tmp_path / "full")  # 3 geolocation rows
    assert run_ingestion(monkeypatch, {**env, "OLIST_LANDING_URI": str(full)}).state == "success"
    pointer = (lake_dir / POINTER_KEY).read_bytes()

    short = write_batch(tmp_path / "short")
    geolocation = short / "olist_geolocation_dataset.csv"  # header and 1 row
    geolocation.write_text("".join(geolocation.read_text().splitlines(keepends=True)[:2]))
    run = run_ingestion(monkeypatch, {**env, "OLIST_LANDING_URI": str(short)})

    assert run.state == "failed"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["publish_batch"] == "failed"
    assert (lake_dir / POINTER_KEY).read_bytes() == pointer
    [held] = list((lake_dir / "raw" / "_batches").glob("*/held.json"))
    reason = json.loads(held.read_text())
    assert "geolocation shrinks from 3 rows in the current batch to 1" in reason["message"]

    run = run_ingestion(
        monkeypatch, {**env, "OLIST_LANDING_URI": str(short)}, conf={"accept_shrink": True}
    )

    assert run.state == "success"
    assert json.loads((lake_dir / POINTER_KEY).read_bytes())["batch_id"] == reason["batch_id"]

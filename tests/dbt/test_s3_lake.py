"""The same build against an S3 lake (a local moto server), httpfs loaded offline."""

from __future__ import annotations

from pathlib import Path

import duckdb

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.transform.dbt_invocation import duckdb_extension_dir
from tests.dbt.compare import diff_rows
from tests.dbt.helpers import Lake, read_features


def s3_connection(endpoint: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={
            "extension_directory": duckdb_extension_dir(),
            "autoinstall_known_extensions": False,
        }
    )
    con.execute("load httpfs")
    con.execute(
        "create secret (type s3, key_id 'testing', secret 'testing', region 'us-east-1', "
        f"endpoint '{endpoint.removeprefix('http://')}', use_ssl false, url_style 'path')"
    )
    return con


def test_build_on_an_s3_lake(synthetic_lake: Lake, moto_endpoint: str, tmp_path: Path) -> None:
    # pinned in requirements/local.txt: without it the S3 lake cannot work at all
    assert duckdb_extension_dir() is not None, "duckdb-ext-httpfs is not installed (make setup)"
    s3 = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    client = s3.boto3_client()
    client.create_bucket(Bucket="olist-dbt")
    # the edge-case raw zone as landed locally (it is not valid for the ingestion on purpose)
    raw = Path(synthetic_lake.lake_root) / "raw"
    for path in raw.rglob("*.parquet"):
        client.upload_file(str(path), "olist-dbt", f"lake/raw/{path.relative_to(raw)}")
    lake = Lake(
        csv_dir=synthetic_lake.csv_dir,
        lake_root="s3://olist-dbt/lake",
        batch_id=synthetic_lake.batch_id,
        work_dir=tmp_path,
    )
    lake.dbt("build", s3=s3)
    con = s3_connection(moto_endpoint)
    on_s3 = read_features("s3://olist-dbt/lake/warehouse", con=con)
    assert diff_rows(read_features(synthetic_lake.warehouse), on_s3) == []

    # one snapshot again, in a separate process: only its partition object is rewritten
    snapshot = sorted({key[1] for key in on_s3})[3]
    listing = client.list_objects_v2(
        Bucket="olist-dbt", Prefix="lake/warehouse/gold/fct_customer_return_risk_features/"
    )["Contents"]
    before = {item["Key"]: item["ETag"] for item in listing}
    lake.dbt("build", "--select", "gold", snapshot_date=str(snapshot), s3=s3)
    listing = client.list_objects_v2(
        Bucket="olist-dbt", Prefix="lake/warehouse/gold/fct_customer_return_risk_features/"
    )["Contents"]
    after = {item["Key"]: item["ETag"] for item in listing}
    assert set(after) == set(before)
    assert diff_rows(on_s3, read_features("s3://olist-dbt/lake/warehouse", con=con)) == []

"""Batches: published whole or not at all, idempotent, bad files quarantined, nothing lost."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from include.olist_risk.ingestion.batch import (
    BatchError,
    current_batch_id,
    discover_batch,
    ingest_folder,
    publish_batch,
    stage_table,
)
from include.olist_risk.ingestion.validate import IngestionError
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.duckdb_engine import connect
from include.olist_risk.lake.layout import POINTER_KEY, table_key
from include.olist_risk.lake.storage import Lake, LocalLake, S3Lake, read_json
from include.olist_risk.olist.tables import TABLES
from tests.ingestion.conftest import ROWS, batch_bytes, write_batch


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path: Path) -> tuple[Lake, S3Credentials | None]:
    """The same tests against a local-folder lake and a lake on a real (moto) S3 API."""
    if request.param == "local":
        return LocalLake(tmp_path / "lake"), None
    bucket = request.getfixturevalue("s3_bucket")
    credentials = S3Credentials(
        "testing", "testing", endpoint_url=request.getfixturevalue("moto_endpoint")
    )
    return S3Lake(f"s3://{bucket}/lake", credentials.boto3_client()), credentials


def published_rows(lake: Lake, credentials: S3Credentials | None) -> dict[str, int]:
    batch_id = current_batch_id(lake)
    with connect(credentials=credentials) as con:
        return {
            name: con.execute(
                f"select count(*) from read_parquet('{lake.uri(table_key(name, batch_id))}')"
            ).fetchone()[0]
            for name in TABLES
        }


def test_valid_batch_is_published_with_manifest(lake, tiny_batch: Path) -> None:
    lake, credentials = lake
    batch_id = ingest_folder(LocalLake(tiny_batch), lake, credentials=credentials)

    pointer = read_json(lake, POINTER_KEY)
    manifest = read_json(lake, pointer["manifest"])
    assert pointer["batch_id"] == batch_id == manifest["batch_id"]
    assert published_rows(lake, credentials) == {name: len(rows) for name, rows in ROWS.items()}
    orders = manifest["tables"]["orders"]
    assert orders["rows"] == 3 and len(orders["csv_sha256"]) == 64


def test_reingesting_the_same_files_changes_nothing(lake, tiny_batch: Path) -> None:
    lake, credentials = lake
    first = ingest_folder(LocalLake(tiny_batch), lake, credentials=credentials)
    keys_before = lake.list("raw")
    pointer_before = lake.read_bytes(POINTER_KEY)

    assert ingest_folder(LocalLake(tiny_batch), lake, credentials=credentials) == first
    assert lake.list("raw") == keys_before
    assert lake.read_bytes(POINTER_KEY) == pointer_before


def test_same_files_gzipped_or_zipped_form_the_same_batch(tmp_path: Path, tiny_batch: Path):
    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    for path in tiny_batch.iterdir():
        (gz_dir / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    zip_dir = tmp_path / "zip"
    zip_dir.mkdir()
    with zipfile.ZipFile(zip_dir / "brazilian-ecommerce.zip", "w") as archive:
        for path in tiny_batch.iterdir():
            archive.write(path, f"olist/{path.name}")

    rows = {}
    for name, folder in {"plain": tiny_batch, "gz": gz_dir, "zip": zip_dir}.items():
        lake = LocalLake(tmp_path / f"lake-{name}")
        ingest_folder(LocalLake(folder), lake)
        rows[name] = published_rows(lake, None)
    assert rows["plain"] == rows["gz"] == rows["zip"]


def test_incomplete_landing_zone_names_the_missing_files(tmp_path: Path, tiny_batch: Path):
    (tiny_batch / "olist_orders_dataset.csv").unlink()
    with pytest.raises(BatchError, match=r"olist_orders_dataset\.csv"):
        discover_batch(LocalLake(tiny_batch), LocalLake(tmp_path / "lake"))


def _truncated_gzip() -> bytes:
    data = gzip.compress(batch_bytes("olist_orders_dataset.csv") * 50)
    return data[: len(data) // 2]


def _truncated_zip(tiny_batch: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in tiny_batch.iterdir():
            archive.write(path, path.name)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize(
    ("corruption", "expected"),
    [
        (
            "bad_timestamp",
            "olist_orders_dataset.csv, data row 2, column 'order_purchase_timestamp'",
        ),
        ("truncated_gzip", "olist_orders_dataset.csv.gz: [corrupt_archive]"),
        ("truncated_zip", "brazilian-ecommerce.zip: [corrupt_archive]"),
    ],
)
def test_bad_batch_is_quarantined_and_published_data_stays_whole(
    lake, tmp_path: Path, tiny_batch: Path, corruption: str, expected: str
) -> None:
    lake, credentials = lake
    good = ingest_folder(LocalLake(tiny_batch), lake, credentials=credentials)
    rows_before = published_rows(lake, credentials)

    bad = write_batch(tmp_path / "bad")
    orders = bad / "olist_orders_dataset.csv"
    if corruption == "bad_timestamp":
        orders.write_text(orders.read_text().replace("2017-02-06 11:00:00", "yesterday"))
    elif corruption == "truncated_gzip":
        orders.unlink()
        (bad / "olist_orders_dataset.csv.gz").write_bytes(_truncated_gzip())
    else:
        archive = _truncated_zip(bad)
        for path in bad.iterdir():
            path.unlink()
        (bad / "brazilian-ecommerce.zip").write_bytes(archive)

    with pytest.raises(IngestionError) as caught:
        ingest_folder(LocalLake(bad), lake, credentials=credentials)

    assert str(caught.value).startswith(expected)
    assert "quarantined at" in str(caught.value)
    reasons = [key for key in lake.list("quarantine") if key.endswith(".reason.json")]
    assert len(reasons) == 1
    reason = read_json(lake, reasons[0])
    assert reason["code"] == caught.value.code and reason["message"]
    assert lake.exists(reasons[0].removesuffix(".reason.json"))
    assert current_batch_id(lake) == good
    assert published_rows(lake, credentials) == rows_before


def test_publish_refuses_a_batch_with_an_unstaged_table(tmp_path: Path, tiny_batch: Path) -> None:
    landing, lake = LocalLake(tiny_batch), LocalLake(tmp_path / "lake")
    batch = discover_batch(landing, lake)
    for name in list(TABLES)[:-1]:
        stage_table(landing, lake, batch, name)

    with pytest.raises(BatchError, match="was not staged"):
        publish_batch(lake, batch)
    assert not lake.exists(POINTER_KEY)


def test_landing_file_changed_after_discovery_is_not_staged(tmp_path: Path, tiny_batch: Path):
    landing, lake = LocalLake(tiny_batch), LocalLake(tmp_path / "lake")
    batch = discover_batch(landing, lake)
    (tiny_batch / "olist_sellers_dataset.csv").write_bytes(
        batch_bytes("olist_sellers_dataset.csv") + b's2,"01037",sao paulo,SP\n'
    )

    with pytest.raises(BatchError, match="changed in the landing zone"):
        stage_table(landing, lake, batch, "sellers")
    assert lake.list("raw/sellers") == []

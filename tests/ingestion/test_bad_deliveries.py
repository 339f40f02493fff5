"""Bad deliveries, one case per class: each is refused or held with a reason that names the
file, table or column, and leaves the raw pointer and every published byte as they were.

Ambiguous deliveries, subfolders, symlinks and special files are refused by discovery
(`discover_batch`); shrinking deliveries and orphans are held by the batch gates
(`publish_batch`, `gates.py`). Every expected value comes from the files the test writes.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from include.olist_risk.config import load_settings
from include.olist_risk.ingestion.batch import (
    BatchError,
    BatchHeld,
    current_batch_id,
    discover_batch,
    ingest_folder,
    stage_table,
)
from include.olist_risk.ingestion.gates import GateLimits
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.layout import (
    FEATURE_STORE_PREFIX,
    POINTER_KEY,
    batch_held_key,
    batch_manifest_key,
)
from include.olist_risk.lake.storage import Lake, LocalLake, S3Lake, read_json
from include.olist_risk.olist.tables import TABLES
from tests.ingestion.conftest import batch_bytes, write_batch

ORDERS = "olist_orders_dataset.csv"
EXTRA_ORDERS = 9  # the published batch has the tiny batch's 3 orders plus these
SECRET = b"SECRET-OUTSIDE-THE-LANDING-ZONE-7f3a"


def with_extra_orders(n: int) -> dict[str, bytes]:
    """Overrides that add orders o4.. with a customer each: a bigger delivery, no orphans."""
    numbers = range(4, 4 + n)
    orders = "".join(
        f"o{i},c{i},delivered,2017-01-05 10:00:00,2017-01-05 10:15:00,"
        "2017-01-06 12:00:00,2017-01-12 15:00:00,2017-01-25 00:00:00\n"
        for i in numbers
    )
    customers = "".join(f'c{i},u{i},"01037",sao paulo,SP\n' for i in numbers)
    return {
        ORDERS: batch_bytes(ORDERS) + orders.encode(),
        "olist_customers_dataset.csv": batch_bytes("olist_customers_dataset.csv")
        + customers.encode(),
    }


# The next delivery: as big as the published one, plus one product, so it is a new batch.
NEXT = {
    **with_extra_orders(EXTRA_ORDERS),
    "olist_products_dataset.csv": batch_bytes("olist_products_dataset.csv")
    + b"p3,perfumaria,40,287,1,225,16,10,14\n",
}


def lake_files(lake: Lake) -> dict[str, bytes]:
    return {key: lake.read_bytes(key) for key in lake.list("")}


def assert_published_unchanged(
    lake: Lake, before: dict[str, bytes], staged_batch: str | None = None
) -> None:
    """Every file the lake held is byte-identical; new files only under the refused batch's
    own prefixes (staging), or none at all when the delivery never formed a batch."""
    after = lake_files(lake)
    assert after[POINTER_KEY] == before[POINTER_KEY]
    assert {key: after.get(key) for key in before} == before
    added = sorted(set(after) - set(before))
    if staged_batch is None:
        assert added == []
    else:
        assert added and all(
            key.startswith(f"raw/_batches/{staged_batch}/") or f"/batch={staged_batch}/" in key
            for key in added
        ), added


@pytest.fixture(scope="module")
def published_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with a published batch (12 orders) and a published feature store, built once."""
    root = tmp_path_factory.mktemp("published")
    lake = LocalLake(root / "lake")
    ingest_folder(LocalLake(write_batch(root / "previous", with_extra_orders(EXTRA_ORDERS))), lake)
    # Stand-ins for a published feature store: only their bytes matter here.
    lake.write_bytes(f"{FEATURE_STORE_PREFIX}/_current.json", b'{"publication": "p1"}')
    lake.write_bytes(f"{FEATURE_STORE_PREFIX}/p1/snapshot_date=2017-04-01/data_0.parquet", b"PAR1")
    return lake.path


@pytest.fixture
def lake(published_lake: Path, tmp_path: Path) -> Lake:
    """Each test's own copy of the published lake."""
    shutil.copytree(published_lake, tmp_path / "lake")
    return LocalLake(tmp_path / "lake")


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _older_orders() -> bytes:
    return batch_bytes(ORDERS)  # the tiny batch's 3 orders: a stale, shorter copy


def csv_and_gz(landing: Path) -> list[str]:
    (landing / f"{ORDERS}.gz").write_bytes(_gz(_older_orders()))
    return [ORDERS, f"{ORDERS}.gz"]


def csv_and_zip_member(landing: Path) -> list[str]:
    _zip(landing / "older.zip", {f"olist/{ORDERS}": _older_orders()})
    return [ORDERS, f"older.zip (member olist/{ORDERS})"]


def two_zips(landing: Path) -> list[str]:
    everything = {path.name: path.read_bytes() for path in landing.iterdir()}
    for path in list(landing.iterdir()):
        path.unlink()
    _zip(landing / "delivery.zip", everything)
    _zip(landing / "older.zip", {ORDERS: _older_orders()})
    return [f"delivery.zip (member {ORDERS})", f"older.zip (member {ORDERS})"]


def two_members_of_one_zip(landing: Path) -> list[str]:
    everything = {path.name: path.read_bytes() for path in landing.iterdir()}
    for path in list(landing.iterdir()):
        path.unlink()
    # `..` in a member name must not matter (members are read in memory), but it is a second
    # candidate for the table all the same.
    _zip(landing / "delivery.zip", {**everything, f"../old/{ORDERS}.gz": _gz(_older_orders())})
    return [f"delivery.zip (member {ORDERS})", f"delivery.zip (member ../old/{ORDERS}.gz)"]


def copy_in_subfolder_searched(landing: Path) -> list[str]:
    (landing / "processed").mkdir()
    (landing / "processed" / ORDERS).write_bytes(_older_orders())
    return [ORDERS, f"processed/{ORDERS}"]


@pytest.mark.parametrize(
    ("deliver", "recursive"),
    [
        (csv_and_gz, False),
        (csv_and_zip_member, False),
        (two_zips, False),
        (two_members_of_one_zip, False),
        (copy_in_subfolder_searched, True),
    ],
)
def test_two_candidates_for_one_table_refuse_the_delivery(
    lake: Lake, tmp_path: Path, deliver, recursive: bool
) -> None:
    landing = write_batch(tmp_path / "landing", NEXT)
    candidates = deliver(landing)
    before = lake_files(lake)

    with pytest.raises(BatchError) as caught:
        ingest_folder(LocalLake(landing), lake, recursive=recursive)

    message = str(caught.value)
    assert "orders has 2 candidates" in message
    for candidate in candidates:
        assert f"'{candidate}'" in message
    assert_published_unchanged(lake, before)


def test_a_copy_in_a_subfolder_is_not_searched_by_default(lake: Lake, tmp_path: Path) -> None:
    landing = write_batch(tmp_path / "landing", NEXT)
    copy_in_subfolder_searched(landing)

    batch_id = ingest_folder(LocalLake(landing), lake)

    manifest = read_json(lake, batch_manifest_key(batch_id))
    assert current_batch_id(lake) == batch_id
    assert manifest["tables"]["orders"]["source_key"] == ORDERS
    assert manifest["tables"]["orders"]["rows"] == 3 + EXTRA_ORDERS


def test_files_that_are_not_olist_tables_are_ignored(
    lake: Lake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    landing = write_batch(tmp_path / "landing", NEXT)
    (landing / "README.txt").write_text("delivered by the Olist export job\n")
    (landing / "ground_truth_labels.csv").write_text("customer_unique_id,label\nu1,abuser\n")
    (landing / ".generated").write_text("scale 0.02\n")

    with caplog.at_level(logging.INFO, logger="include.olist_risk.ingestion.batch"):
        batch_id = ingest_folder(LocalLake(landing), lake)

    manifest = read_json(lake, batch_manifest_key(batch_id))
    assert sorted(part["source_key"] for part in manifest["tables"].values()) == sorted(
        table.file_name for table in TABLES.values()
    )
    assert "ground_truth_labels.csv: not one of the nine Olist files; ignored" in caplog.text


def test_zip_members_with_dotdot_or_absolute_paths_are_read_in_memory_only(
    lake: Lake, tmp_path: Path
) -> None:
    landing = write_batch(tmp_path / "landing", NEXT)
    members = {}
    for i, path in enumerate(sorted(landing.iterdir())):
        name = f"../../escape/{path.name}" if i % 2 else f"/abs/escape/{path.name}"
        members[name] = path.read_bytes()
        path.unlink()
    _zip(landing / "delivery.zip", members)

    batch_id = ingest_folder(LocalLake(landing), lake)

    assert current_batch_id(lake) == batch_id
    assert not list(tmp_path.rglob("escape")) and not Path("/abs").exists()


def _symlinked_file(landing: Path, outside: Path) -> str:
    (landing / ORDERS).unlink()
    (landing / ORDERS).symlink_to(outside / "secret.csv")
    return f"{ORDERS} (symlink)"


def _symlinked_folder(landing: Path, outside: Path) -> str:
    (landing / "processed").symlink_to(outside, target_is_directory=True)
    return "processed (symlink)"


def _fifo(landing: Path, outside: Path) -> str:
    (landing / ORDERS).unlink()
    os.mkfifo(landing / ORDERS)
    return f"{ORDERS} (special)"


def _fifo_among_other_files(landing: Path, outside: Path) -> str:
    os.mkfifo(landing / "incoming.csv")
    return "incoming.csv (special)"


@pytest.mark.timeout(60)  # opening a FIFO would block: the test must fail, not hang
@pytest.mark.parametrize("recursive", [False, True])
@pytest.mark.parametrize(
    "plant", [_symlinked_file, _symlinked_folder, _fifo, _fifo_among_other_files]
)
def test_symlinks_and_special_files_are_refused_and_never_read(
    lake: Lake, tmp_path: Path, plant, recursive: bool
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_bytes(batch_bytes(ORDERS) + SECRET + b"\n")
    (outside / ORDERS).write_bytes(batch_bytes(ORDERS) + SECRET + b"\n")
    landing = write_batch(tmp_path / "landing", NEXT)
    entry = plant(landing, outside)
    before = lake_files(lake)

    with pytest.raises(BatchError) as caught:
        ingest_folder(LocalLake(landing), lake, recursive=recursive)

    assert "not regular files" in str(caught.value)
    assert f"'{entry}'" in str(caught.value)
    assert_published_unchanged(lake, before)
    assert not any(SECRET in data for data in lake_files(lake).values())


def test_a_file_swapped_for_a_symlink_after_discovery_is_not_read(
    lake: Lake, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_bytes(batch_bytes("olist_sellers_dataset.csv") + SECRET + b"\n")
    landing_dir = write_batch(tmp_path / "landing", NEXT)
    landing = LocalLake(landing_dir)
    batch = discover_batch(landing, lake)
    (landing_dir / "olist_sellers_dataset.csv").unlink()
    (landing_dir / "olist_sellers_dataset.csv").symlink_to(secret)

    with pytest.raises(OSError):
        stage_table(landing, lake, batch, "sellers")
    assert not any(SECRET in data for data in lake_files(lake).values())


def test_a_shrinking_delivery_is_held_then_published_with_the_override(
    lake: Lake, tmp_path: Path
) -> None:
    previous = current_batch_id(lake)
    landing = LocalLake(write_batch(tmp_path / "landing"))  # 3 orders instead of 12
    before = lake_files(lake)

    with pytest.raises(BatchHeld) as caught:
        ingest_folder(landing, lake)

    message, held = str(caught.value), caught.value.reason
    new = held["batch_id"]
    assert "orders shrinks from 12 rows in the current batch to 3 (75.0% fewer" in message
    assert "customers shrinks from 12 rows in the current batch to 3" in message
    assert "accept_shrink=true" in message and f"current batch stays {previous}" in message
    assert read_json(lake, batch_held_key(new)) == held
    assert {(p["gate"], p["table"]) for p in held["problems"]} == {
        ("row_count", "orders"),
        ("row_count", "customers"),
    }
    assert_published_unchanged(lake, before, staged_batch=new)

    assert ingest_folder(landing, lake, limits=GateLimits(accept_shrink=True)) == new
    assert current_batch_id(lake) == new
    gates = read_json(lake, batch_manifest_key(new))["gates"]
    assert gates["previous_batch_id"] == previous
    assert gates["row_counts"]["orders"] == {"previous": 12, "current": 3, "shrink": 0.75}
    assert len(gates["accepted_shrink"]) == 2


def test_a_shrink_within_the_threshold_is_published(lake: Lake, tmp_path: Path) -> None:
    # 12 -> 11 orders (8.3%) and customers, under the default 10%.
    landing = write_batch(tmp_path / "landing", with_extra_orders(EXTRA_ORDERS - 1))

    batch_id = ingest_folder(LocalLake(landing), lake)

    assert current_batch_id(lake) == batch_id
    counts = read_json(lake, batch_manifest_key(batch_id))["gates"]["row_counts"]
    assert counts["orders"] == {"previous": 12, "current": 11, "shrink": round(1 / 12, 6)}


def _add_row(file_name: str, row: str) -> dict[str, bytes]:
    return {file_name: NEXT.get(file_name, batch_bytes(file_name)) + row.encode() + b"\n"}


ORPHANS = {
    "item_of_unknown_order": (
        _add_row("olist_order_items_dataset.csv", "o99,1,p1,s1,2017-01-09 10:00:00,9.90,1.50"),
        "order_items.order_id: 1 of 5 rows (20.0%",
        "'o99' (1 row)",
    ),
    "payment_of_unknown_order": (
        _add_row("olist_order_payments_dataset.csv", "o98,1,boleto,1,10.00"),
        "order_payments.order_id: 1 of 5 rows (20.0%",
        "'o98' (1 row)",
    ),
    "review_of_unknown_order": (
        _add_row(
            "olist_order_reviews_dataset.csv",
            "r9,o97,4,,,2017-02-20 00:00:00,2017-02-21 08:00:00",
        ),
        "order_reviews.order_id: 1 of 3 rows (33.3%",
        "'o97' (1 row)",
    ),
    "order_of_unknown_customer": (
        {ORDERS: NEXT[ORDERS].replace(b"o3,c3,", b"o3,c404,")},
        "orders.customer_id: 1 of 12 rows (8.3%",
        "'c404' (1 row)",
    ),
}


@pytest.mark.parametrize("case", sorted(ORPHANS))
def test_orphans_above_the_threshold_hold_the_batch(lake: Lake, tmp_path: Path, case: str):
    overrides, counted, example = ORPHANS[case]
    landing = write_batch(tmp_path / "landing", {**NEXT, **overrides})
    before = lake_files(lake)

    with pytest.raises(BatchHeld) as caught:
        ingest_folder(LocalLake(landing), lake)

    message, held = str(caught.value), caught.value.reason
    assert counted in message and example in message
    assert "more than the 1.0% allowed" in message
    assert "accept_shrink" not in message  # no override for orphans: the delivery is broken
    [problem] = held["problems"]
    table, column = counted.split(":")[0].split(".")
    assert (problem["gate"], problem["table"], problem["column"]) == ("orphans", table, column)
    assert read_json(lake, batch_held_key(held["batch_id"])) == held
    assert_published_unchanged(lake, before, staged_batch=held["batch_id"])


@pytest.mark.parametrize(
    ("overrides", "reference"),
    [
        (
            _add_row("olist_order_items_dataset.csv", "o1,2,p404,s1,2017-01-09 10:00:00,9.90,1.5"),
            "order_items.product_id -> products.product_id",
        ),
        (
            _add_row("olist_order_items_dataset.csv", "o1,2,p1,s404,2017-01-09 10:00:00,9.90,1.5"),
            "order_items.seller_id -> sellers.seller_id",
        ),
    ],
)
def test_items_of_unknown_products_or_sellers_are_published_and_counted(
    lake: Lake, tmp_path: Path, overrides: dict, reference: str
) -> None:
    landing = write_batch(tmp_path / "landing", {**NEXT, **overrides})

    batch_id = ingest_folder(LocalLake(landing), lake)

    assert current_batch_id(lake) == batch_id
    orphans = read_json(lake, batch_manifest_key(batch_id))["gates"]["orphans"][reference]
    assert orphans["orphan_rows"] == 1 and orphans["rows"] == 5
    assert orphans["holds_batch"] is False and orphans["examples"][0]["rows"] == 1


def test_orphans_under_a_raised_threshold_are_published_and_counted(
    lake: Lake, tmp_path: Path
) -> None:
    overrides = ORPHANS["order_of_unknown_customer"][0]
    landing = write_batch(tmp_path / "landing", {**NEXT, **overrides})

    batch_id = ingest_folder(LocalLake(landing), lake, limits=GateLimits(max_orphan_share=0.1))

    orphans = read_json(lake, batch_manifest_key(batch_id))["gates"]["orphans"]
    assert orphans["orders.customer_id -> customers.customer_id"]["examples"] == [
        {"value": "c404", "rows": 1}
    ]
    assert orphans["order_items.order_id -> orders.order_id"]["orphan_rows"] == 0


def test_generated_data_passes_every_gate(tmp_path: Path) -> None:
    from dev.generator.generate import generate

    landing = tmp_path / "landing"
    generate(landing, scale=0.02, seed=42)
    lake = LocalLake(tmp_path / "lake")
    first = ingest_folder(LocalLake(landing), lake)
    # Again with one more product: a second batch compared with the first.
    products = landing / "olist_products_dataset.csv"
    products.write_bytes(products.read_bytes() + b"pnew,,,,,,,,\n")
    second = ingest_folder(LocalLake(landing), lake)

    gates = read_json(lake, batch_manifest_key(second))["gates"]
    assert second != first and current_batch_id(lake) == second
    assert gates["previous_batch_id"] == first
    assert all(found["orphan_rows"] == 0 for found in gates["orphans"].values())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (False, 0.10, 0.01)),
        (
            {
                "OLIST_LANDING_RECURSIVE": "true",
                "OLIST_MAX_ROW_SHRINK": "0.5",
                "OLIST_MAX_ORPHAN_SHARE": "0",
            },
            (True, 0.5, 0.0),
        ),
        ({"OLIST_LANDING_RECURSIVE": "sometimes"}, ValueError),
        ({"OLIST_MAX_ROW_SHRINK": "10%"}, ValueError),
        ({"OLIST_MAX_ORPHAN_SHARE": "2"}, ValueError),
    ],
)
def test_ingestion_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict, expected
) -> None:
    for name in ("OLIST_LANDING_RECURSIVE", "OLIST_MAX_ROW_SHRINK", "OLIST_MAX_ORPHAN_SHARE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if expected is ValueError:
        with pytest.raises(ValueError, match=next(iter(env))):
            load_settings()
        return
    settings = load_settings()
    assert (
        settings.landing_recursive,
        settings.max_row_shrink,
        settings.max_orphan_share,
    ) == expected


def test_on_s3_a_subfolder_copy_is_ignored_and_orphans_hold_the_batch(
    tmp_path: Path, s3_bucket: str, moto_endpoint: str
) -> None:
    credentials = S3Credentials("testing", "testing", endpoint_url=moto_endpoint)
    client = credentials.boto3_client()
    lake = S3Lake(f"s3://{s3_bucket}/lake", client)
    landing = S3Lake(f"s3://{s3_bucket}/landing", client)

    def deliver(folder: Path) -> None:
        for key in landing.list(""):
            client.delete_object(Bucket=s3_bucket, Key=f"landing/{key}")
        for path in folder.iterdir():
            client.upload_file(str(path), s3_bucket, f"landing/{path.name}")

    deliver(write_batch(tmp_path / "previous", with_extra_orders(EXTRA_ORDERS)))
    ingest_folder(landing, lake, credentials=credentials)
    before = lake_files(lake)
    deliver(write_batch(tmp_path / "next", {**NEXT, **ORPHANS["order_of_unknown_customer"][0]}))
    client.put_object(Bucket=s3_bucket, Key=f"landing/processed/{ORDERS}", Body=_older_orders())

    with pytest.raises(BatchHeld) as caught:
        ingest_folder(landing, lake, credentials=credentials)

    assert "orders.customer_id: 1 of 12 rows" in str(caught.value)
    assert "candidates" not in str(caught.value)
    assert_published_unchanged(lake, before, staged_batch=caught.value.reason["batch_id"])

    with pytest.raises(BatchError, match=rf"'{ORDERS}', 'processed/{ORDERS}'"):
        ingest_folder(landing, lake, recursive=True, credentials=credentials)

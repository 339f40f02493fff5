"""Validation of single files: the real Kaggle files pass, each kind of damage is named."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from include.olist_risk.ingestion.validate import IngestionError, validate_to_parquet
from include.olist_risk.olist.tables import TABLES, TABLES_BY_FILE
from tests.ingestion.conftest import batch_bytes
from tests.isolation import shared_data_dir

# Row counts published in ../shared/data/olist/README.md for the four real files.
REAL_FILE_ROWS = {
    "olist_order_payments_dataset.csv": 103886,
    "olist_products_dataset.csv": 32951,
    "olist_sellers_dataset.csv": 3095,
    "product_category_name_translation.csv": 71,
}


@pytest.mark.parametrize("file_name", sorted(REAL_FILE_ROWS))
def test_real_kaggle_file_validates_and_keeps_every_row(file_name: str, tmp_path: Path) -> None:
    csv_path = tmp_path / file_name
    csv_path.write_bytes(gzip.decompress((shared_data_dir() / f"{file_name}.gz").read_bytes()))
    table = TABLES_BY_FILE[file_name]

    result = validate_to_parquet(csv_path, table, tmp_path / "out.parquet")

    assert result.rows == REAL_FILE_ROWS[file_name]
    assert result.ignored == {}  # none of the four has rows FEATURES.md ignores
    relation = duckdb.read_parquet(str(tmp_path / "out.parquet"))
    assert relation.columns == table.header
    assert {str(t) for t in relation.types} == {"VARCHAR"}


def test_real_translation_file_loses_bom_and_carriage_returns(tmp_path: Path) -> None:
    name = "product_category_name_translation.csv"
    csv_path = tmp_path / name
    csv_path.write_bytes(gzip.decompress((shared_data_dir() / f"{name}.gz").read_bytes()))
    validate_to_parquet(csv_path, TABLES_BY_FILE[name], tmp_path / "out.parquet")

    values = duckdb.sql(f"select * from '{tmp_path / 'out.parquet'}'").fetchall()
    assert ("beleza_saude", "health_beauty") in values
    assert not any("\r" in v or "\ufeff" in v for row in values for v in row)


def test_real_products_keep_missing_categories_as_null(tmp_path: Path) -> None:
    name = "olist_products_dataset.csv"
    csv_path = tmp_path / name
    csv_path.write_bytes(gzip.decompress((shared_data_dir() / f"{name}.gz").read_bytes()))
    validate_to_parquet(csv_path, TABLES_BY_FILE[name], tmp_path / "out.parquet")

    missing = duckdb.sql(
        f"select count(*) from '{tmp_path / 'out.parquet'}' where product_category_name is null"
    ).fetchone()[0]
    assert missing == 610  # the data README: 610 products have no category


def test_multiline_quoted_review_comment_is_one_row(tmp_path: Path) -> None:
    table = TABLES["order_reviews"]
    csv_path = tmp_path / table.file_name
    csv_path.write_bytes(batch_bytes(table.file_name))

    assert validate_to_parquet(csv_path, table, tmp_path / "out.parquet").rows == 2
    message = duckdb.sql(
        f"select review_comment_message from '{tmp_path / 'out.parquet'}' where review_id = 'r1'"
    ).fetchone()[0]
    assert message == 'Chegou rápido,\nrecomendo "muito"'


def _replace(file_name: str, old: str, new: str) -> bytes:
    data = batch_bytes(file_name).decode()
    assert old in data
    return data.replace(old, new, 1).encode()


ORDERS = "olist_orders_dataset.csv"
ITEMS = "olist_order_items_dataset.csv"
PAYMENTS = "olist_order_payments_dataset.csv"

CORRUPTIONS = {
    "missing_column": (
        ORDERS,
        lambda: _replace(ORDERS, ',"order_status"', ""),
        "header",
        None,
        "order_status",
    ),
    "renamed_header": (
        ORDERS,
        lambda: _replace(ORDERS, '"order_status"', '"status"'),
        "header",
        None,
        "order_status",
    ),
    "extra_column": (
        PAYMENTS,
        lambda: _replace(PAYMENTS, '"payment_value"', '"payment_value","coupon"'),
        "header",
        None,
        "coupon",
    ),
    "bad_timestamp": (
        ORDERS,
        lambda: _replace(ORDERS, "2017-02-06 11:00:00", "06/02/2017 11h"),
        "bad_type",
        2,
        "order_purchase_timestamp",
    ),
    "non_numeric_price": (
        ITEMS,
        lambda: _replace(ITEMS, "120.00,12.00", "12O.00,12.00"),
        "bad_type",
        4,
        "price",
    ),
    "duplicate_key": (
        PAYMENTS,
        lambda: _replace(PAYMENTS, "o2,2,voucher", "o2,1,voucher"),
        "duplicate_key",
        3,
        "order_id, payment_sequential",
    ),
    "null_order_item_id": (
        ITEMS,
        lambda: _replace(ITEMS, "o3,1,p2", "o3,,p2"),
        "null_value",
        4,
        "order_item_id",
    ),
    "ragged_row": (
        PAYMENTS,
        lambda: _replace(PAYMENTS, "o1,1,credit_card,3,70.40", "o1,1,credit_card,3,70.40,9"),
        "malformed_csv",
        None,
        None,
    ),
    "empty_file": (ORDERS, lambda: b"", "empty_file", None, None),
    "header_only": (
        ORDERS,
        lambda: batch_bytes(ORDERS).split(b"\n")[0] + b"\n",
        "no_rows",
        None,
        None,
    ),
    "wrong_encoding": (
        ORDERS,
        lambda: batch_bytes(ORDERS) + "o4,c1,não\n".encode("latin-1"),
        "encoding",
        None,
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_file_is_rejected_with_file_row_and_column(case: str, tmp_path: Path) -> None:
    file_name, make_bytes, code, row, column = CORRUPTIONS[case]
    csv_path = tmp_path / file_name
    csv_path.write_bytes(make_bytes())
    out = tmp_path / "out.parquet"

    with pytest.raises(IngestionError) as caught:
        validate_to_parquet(csv_path, TABLES_BY_FILE[file_name], out)

    error = caught.value
    assert error.code == code
    assert error.file_name == file_name and str(error).startswith(file_name)
    assert error.row == row
    if column is not None:
        assert error.column == column and column.split(",")[0] in str(error)
    assert not out.exists()

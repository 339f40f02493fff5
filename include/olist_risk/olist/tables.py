"""The nine files of the Kaggle dataset `olistbr/brazilian-ecommerce`: names, headers, domains.

This is the single description of the source format. The generator writes it, ingestion
validates against it, and dbt's bronze layer reads the raw tables it names. Each column's
domain is stated as the warehouse uses the value: ingestion accepts a value only if bronze's
cast turns it into exactly what the file says (no rounding, no overflow, no hidden character).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    """How a raw text field must parse; raw tables keep the text, bronze casts it.

    - ID: an identifier. Kaggle's are 32 lowercase hex digits, but another delivery may use
      other ids, so the shape accepted is any plain ASCII identifier, `ID_PATTERN`: it rejects
      only what is certainly not an id (spaces, quotes, control, invisible or other non-ASCII
      characters such as U+FEFF, U+200B or U+00A0, which would orphan rows silently in joins).
    - TEXT: short code-like text (states, statuses, payment types, categories, cities, zip
      prefixes): any printable text, no control, format (invisible) or non-ASCII space
      characters, which bronze's trim keeps and which make equal-looking codes differ.
      Surrounding spaces are kept: bronze trims text.
    - FREE_TEXT: what people typed (review title and message): line breaks and tabs allowed,
      no other control character.
    - INTEGER: exactly `-?[0-9]+`, within INT32 (bronze casts to `integer`) and the column's
      range.
    - NUMERIC: a finite plain decimal, `-?[0-9]+(.[0-9]+)?`, within the column's range; the
      columns with `exponent=True` may also carry an exponent.
    - TIMESTAMP: exactly `TIMESTAMP_FORMAT`, and a real date and time.

    Typed values (every type but TEXT and FREE_TEXT) must be exactly their type: surrounding
    whitespace is rejected, not trimmed.
    """

    ID = "id"
    TEXT = "text"
    FREE_TEXT = "free_text"
    INTEGER = "integer"
    NUMERIC = "numeric"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    """One CSV column; `minimum`/`maximum` bound INTEGER and NUMERIC values (inclusive).

    `exponent`: a NUMERIC column written by a float printer (Python's and pandas' repr
    switch to `9.4e-05` below 1e-4, as the generator's coordinates show), so an exponent is
    the value's ordinary form there; money is never written that way.
    """

    name: str
    type: ColumnType = ColumnType.TEXT
    nullable: bool = True
    minimum: int | float | None = None
    maximum: int | float | None = None
    exponent: bool = False


@dataclass(frozen=True)
class OlistTable:
    """One Kaggle file: `name` is the raw table name, `file_name` the exact Kaggle file name.

    `ignored_when_null`: rows FEATURES.md section 1 says to ignore, by reason, with the columns
    of which any being NULL puts a row there. Such rows are data, not a broken file: ingestion
    keeps them as they are and counts them for the batch manifest; dbt leaves them out.
    """

    name: str
    file_name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    ignored_when_null: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


T = ColumnType
KAGGLE_DATASET = "olistbr/brazilian-ecommerce"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Ids: 1..64 ASCII letters, digits, '_' or '-' (Kaggle's 32 hex digits fit; see ColumnType).
ID_CHARACTERS = "A-Za-z0-9_-"
ID_MAX_LENGTH = 64
ID_PATTERN = f"[{ID_CHARACTERS}]{{1,{ID_MAX_LENGTH}}}"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _id(name: str, *, nullable: bool = False) -> Column:
    return Column(name, T.ID, nullable=nullable)


def _count(name: str, *, minimum: int = 0, maximum: int | None = None) -> Column:
    """A nullable INTEGER: quantities, lengths and weights are never negative."""
    return Column(name, T.INTEGER, minimum=minimum, maximum=maximum)


def _money(name: str) -> Column:
    return Column(name, T.NUMERIC, minimum=0)


TABLES: dict[str, OlistTable] = {
    table.name: table
    for table in (
        OlistTable(
            "customers",
            "olist_customers_dataset.csv",
            (
                _id("customer_id"),
                _id("customer_unique_id", nullable=True),
                Column("customer_zip_code_prefix"),
                Column("customer_city"),
                Column("customer_state"),
            ),
            key=("customer_id",),
            ignored_when_null=(("customers without customer_unique_id", ("customer_unique_id",)),),
        ),
        OlistTable(
            "geolocation",
            "olist_geolocation_dataset.csv",
            (
                Column("geolocation_zip_code_prefix", nullable=False),
                Column("geolocation_lat", T.NUMERIC, minimum=-90, maximum=90, exponent=True),
                Column("geolocation_lng", T.NUMERIC, minimum=-180, maximum=180, exponent=True),
                Column("geolocation_city"),
                Column("geolocation_state"),
            ),
        ),
        OlistTable(
            "order_items",
            "olist_order_items_dataset.csv",
            (
                _id("order_id"),
                Column("order_item_id", T.INTEGER, nullable=False, minimum=1),
                _id("product_id"),
                _id("seller_id"),
                Column("shipping_limit_date", T.TIMESTAMP),
                _money("price"),
                _money("freight_value"),
            ),
            key=("order_id", "order_item_id"),
        ),
        OlistTable(
            "order_payments",
            "olist_order_payments_dataset.csv",
            (
                _id("order_id"),
                Column("payment_sequential", T.INTEGER, nullable=False, minimum=1),
                Column("payment_type"),
                _count("payment_installments"),
                _money("payment_value"),
            ),
            key=("order_id", "payment_sequential"),
        ),
        OlistTable(
            "order_reviews",
            "olist_order_reviews_dataset.csv",
            (
                _id("review_id"),
                _id("order_id"),
                Column("review_score", T.INTEGER, minimum=1, maximum=5),
                Column("review_comment_title", T.FREE_TEXT),
                Column("review_comment_message", T.FREE_TEXT),
                Column("review_creation_date", T.TIMESTAMP),
                Column("review_answer_timestamp", T.TIMESTAMP),
            ),
            ignored_when_null=(
                (
                    "reviews without review_score or review_answer_timestamp",
                    ("review_score", "review_answer_timestamp"),
                ),
            ),
        ),
        OlistTable(
            "orders",
            "olist_orders_dataset.csv",
            (
                _id("order_id"),
                _id("customer_id"),
                Column("order_status"),
                Column("order_purchase_timestamp", T.TIMESTAMP),
                Column("order_approved_at", T.TIMESTAMP),
                Column("order_delivered_carrier_date", T.TIMESTAMP),
                Column("order_delivered_customer_date", T.TIMESTAMP),
                Column("order_estimated_delivery_date", T.TIMESTAMP),
            ),
            key=("order_id",),
            ignored_when_null=(
                ("orders without order_purchase_timestamp", ("order_purchase_timestamp",)),
            ),
        ),
        OlistTable(
            "products",
            "olist_products_dataset.csv",
            (
                _id("product_id"),
                Column("product_category_name"),
                _count("product_name_lenght"),
                _count("product_description_lenght"),
                _count("product_photos_qty"),
                _count("product_weight_g"),
                _count("product_length_cm"),
                _count("product_height_cm"),
                _count("product_width_cm"),
            ),
            key=("product_id",),
        ),
        OlistTable(
            "sellers",
            "olist_sellers_dataset.csv",
            (
                _id("seller_id"),
                Column("seller_zip_code_prefix"),
                Column("seller_city"),
                Column("seller_state"),
            ),
            key=("seller_id",),
        ),
        OlistTable(
            "product_category_name_translation",
            "product_category_name_translation.csv",
            (
                Column("product_category_name", nullable=False),
                Column("product_category_name_english"),
            ),
            key=("product_category_name",),
        ),
    )
}

TABLES_BY_FILE: dict[str, OlistTable] = {table.file_name: table for table in TABLES.values()}

# Not one of the nine Kaggle files: the generator's record of the abuse it injected.
LABELS_FILE_NAME = "ground_truth_labels.csv"
LABELS_HEADER = ("customer_unique_id", "persona", "first_active", "last_active", "target_feature")

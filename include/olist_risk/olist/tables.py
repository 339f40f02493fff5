"""The nine files of the Kaggle dataset `olistbr/brazilian-ecommerce`: names, headers, types.

This is the single description of the source format. The generator writes it, ingestion
validates against it, and dbt's bronze layer reads the raw tables it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    """How a raw text field must parse; raw tables keep the text, bronze casts it."""

    TEXT = "text"
    INTEGER = "integer"
    NUMERIC = "numeric"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.TEXT
    nullable: bool = True


@dataclass(frozen=True)
class OlistTable:
    """One Kaggle file: `name` is the raw table name, `file_name` the exact Kaggle file name."""

    name: str
    file_name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


T = ColumnType
KAGGLE_DATASET = "olistbr/brazilian-ecommerce"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

TABLES: dict[str, OlistTable] = {
    table.name: table
    for table in (
        OlistTable(
            "customers",
            "olist_customers_dataset.csv",
            (
                Column("customer_id", nullable=False),
                Column("customer_unique_id", nullable=False),
                Column("customer_zip_code_prefix"),
                Column("customer_city"),
                Column("customer_state"),
            ),
            key=("customer_id",),
        ),
        OlistTable(
            "geolocation",
            "olist_geolocation_dataset.csv",
            (
                Column("geolocation_zip_code_prefix", nullable=False),
                Column("geolocation_lat", T.NUMERIC),
                Column("geolocation_lng", T.NUMERIC),
                Column("geolocation_city"),
                Column("geolocation_state"),
            ),
        ),
        OlistTable(
            "order_items",
            "olist_order_items_dataset.csv",
            (
                Column("order_id", nullable=False),
                Column("order_item_id", T.INTEGER, nullable=False),
                Column("product_id", nullable=False),
                Column("seller_id", nullable=False),
                Column("shipping_limit_date", T.TIMESTAMP),
                Column("price", T.NUMERIC),
                Column("freight_value", T.NUMERIC),
            ),
            key=("order_id", "order_item_id"),
        ),
        OlistTable(
            "order_payments",
            "olist_order_payments_dataset.csv",
            (
                Column("order_id", nullable=False),
                Column("payment_sequential", T.INTEGER, nullable=False),
                Column("payment_type"),
                Column("payment_installments", T.INTEGER),
                Column("payment_value", T.NUMERIC),
            ),
            key=("order_id", "payment_sequential"),
        ),
        OlistTable(
            "order_reviews",
            "olist_order_reviews_dataset.csv",
            (
                Column("review_id", nullable=False),
                Column("order_id", nullable=False),
                Column("review_score", T.INTEGER),
                Column("review_comment_title"),
                Column("review_comment_message"),
                Column("review_creation_date", T.TIMESTAMP),
                Column("review_answer_timestamp", T.TIMESTAMP),
            ),
        ),
        OlistTable(
            "orders",
            "olist_orders_dataset.csv",
            (
                Column("order_id", nullable=False),
                Column("customer_id", nullable=False),
                Column("order_status"),
                Column("order_purchase_timestamp", T.TIMESTAMP, nullable=False),
                Column("order_approved_at", T.TIMESTAMP),
                Column("order_delivered_carrier_date", T.TIMESTAMP),
                Column("order_delivered_customer_date", T.TIMESTAMP),
                Column("order_estimated_delivery_date", T.TIMESTAMP),
            ),
            key=("order_id",),
        ),
        OlistTable(
            "products",
            "olist_products_dataset.csv",
            (
                Column("product_id", nullable=False),
                Column("product_category_name"),
                Column("product_name_lenght", T.INTEGER),
                Column("product_description_lenght", T.INTEGER),
                Column("product_photos_qty", T.INTEGER),
                Column("product_weight_g", T.INTEGER),
                Column("product_length_cm", T.INTEGER),
                Column("product_height_cm", T.INTEGER),
                Column("product_width_cm", T.INTEGER),
            ),
            key=("product_id",),
        ),
        OlistTable(
            "sellers",
            "olist_sellers_dataset.csv",
            (
                Column("seller_id", nullable=False),
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

"""Airflow Assets the DAGs produce, so that other DAGs can schedule on them.

Their URIs are where the data really is (`s3://bucket/prefix/feature_store` or
`file:///.../lake/feature_store`), read from the settings when the DAG file is parsed, so the
Assets page points users at the lake. Each is updated once per publish.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import Asset

from include.olist_risk.config import load_settings
from include.olist_risk.lake.layout import FEATURE_STORE_PREFIX, RAW_PREFIX


def lake_asset_uri(lake_uri: str, key: str) -> str:
    root = lake_uri if lake_uri.startswith("s3://") else Path(lake_uri).resolve().as_uri()
    return f"{root.rstrip('/')}/{key}"


_LAKE_URI = load_settings().lake_uri
RAW_BATCH = Asset(name="olist_raw_batch", uri=lake_asset_uri(_LAKE_URI, RAW_PREFIX))
FEATURE_STORE = Asset(
    name="olist_return_risk_feature_store",
    uri=lake_asset_uri(_LAKE_URI, FEATURE_STORE_PREFIX),
)

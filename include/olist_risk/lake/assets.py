"""Airflow Assets the DAGs produce, so that other DAGs can schedule on them."""

from __future__ import annotations

from airflow.sdk import Asset

RAW_BATCH = Asset(name="olist_raw_batch", uri="olist://lake/raw/_current.json")
FEATURE_STORE = Asset(name="olist_return_risk_feature_store", uri="olist://lake/feature_store/")

"""Entry point Airflow loads from the plugins folder: the Olist feature-store UI plugin.

The plugin itself lives in the `olist_feature_store` package (ignored by Airflow's own loader,
see `.airflowignore`, and imported here as a package).
"""

from __future__ import annotations

from olist_feature_store import OlistFeatureStorePlugin

__all__ = ["OlistFeatureStorePlugin"]

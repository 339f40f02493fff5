"""The Olist feature-store UI plugin: feature store and Soda quality pages in the Airflow UI.

The FastAPI app (`app.py`) is mounted on Airflow's API server at `/olist`; two entries in the
navigation ("Browse") show its pages inside the Airflow UI, a tab on each DAG run shows that
run's quality results, and a "Soda report" extra link on the quality gate's and the gold audit's
task instances opens them. Airflow loads the plugin from `plugins/olist_feature_store_plugin.py`:
it imports every `.py` file of the plugins folder as a top-level module named after the file,
so this package is listed in `plugins/.airflowignore` and imported as a package instead (the
plugins folder is on `sys.path`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin


def _make_project_importable() -> None:
    """Let the API server import the project's `include` package.

    Locally (`make airflow`, Astro) the project root is on PYTHONPATH. On MWAA `include/` ships
    under the DAGs folder, which the DAG processor puts on sys.path while parsing but the API
    server, which loads plugins, does not.
    """
    if importlib.util.find_spec("include") is not None:
        return
    dags_folder = conf.get("core", "dags_folder")
    if (Path(dags_folder) / "include").is_dir() and dags_folder not in sys.path:
        sys.path.append(dags_folder)


_make_project_importable()

from include.olist_risk.quality.sensor import QualityReportLink  # noqa: E402  (same)

from .app import URL_PREFIX, app  # noqa: E402  (needs the path set above)


class OlistFeatureStorePlugin(AirflowPlugin):
    name = "olist_feature_store"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Olist feature store"}]
    # "Soda report" on the quality gate's task instances (the link names the operator classes
    # it belongs to); the API server computes it. The gold audit carries the same link on its
    # own task (see QualityReportLink).
    operator_extra_links = [QualityReportLink()]
    # With a `url_route` the UI shows `href` in a frame under its own page
    # (/plugin/<url_route>); the page's requests carry the UI's `_token` cookie.
    external_views = [
        {
            "name": "Feature store",
            "href": f"{URL_PREFIX}/feature-store",
            "url_route": "olist-feature-store",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Quality (Soda)",
            "href": f"{URL_PREFIX}/quality",
            "url_route": "olist-quality",
            "destination": "nav",
            "category": "browse",
        },
        {
            # A tab on every DAG run with that run's Soda results (the UI fills in {DAG_ID}
            # and {RUN_ID}).
            "name": "Soda results",
            "href": f"{URL_PREFIX}/quality?dag={{DAG_ID}}&run={{RUN_ID}}",
            "url_route": "olist-run-quality",
            "destination": "dag_run",
        },
    ]

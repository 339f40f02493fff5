"""What a task needs at run time: settings, credentials from Airflow, the lakes.

Credentials come from the Airflow connection named in the settings (`aws_default`), never
from the repository: locally from airflow_settings.yaml or AIRFLOW_CONN_* variables, on
MWAA from the execution role or a secrets backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from include.olist_risk.config import Settings, load_settings
from include.olist_risk.lake.credentials import S3Credentials, s3_credentials_from_airflow
from include.olist_risk.lake.storage import Lake, open_lake


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    credentials: S3Credentials | None
    lake: Lake
    landing: Lake


def load_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    uses_s3 = any(uri.startswith("s3://") for uri in (settings.lake_uri, settings.landing_uri))
    credentials = s3_credentials_from_airflow(settings.aws_conn_id) if uses_s3 else None
    return Runtime(
        settings=settings,
        credentials=credentials,
        lake=open_lake(settings.lake_uri, credentials),
        landing=open_lake(settings.landing_uri, credentials),
    )

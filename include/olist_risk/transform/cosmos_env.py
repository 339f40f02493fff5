"""The environment of the dbt processes that Cosmos starts, as Airflow templates.

S3 credentials are resolved from the Airflow connection when the task runs, through the
same boto3 chain the rest of the tasks use (`s3_credentials_from_airflow`): keys in the
connection, or the worker's role with its session token on MWAA. Nothing is stored in the
DAG or the repository; the dbt profile reads them from the environment.
"""

from __future__ import annotations

from functools import cache

from include.olist_risk.lake.credentials import s3_credentials_from_airflow
from include.olist_risk.transform.dbt_invocation import duckdb_extension_dir

MACRO = "olist_s3_env"
# What the dbt profile falls back to when a value is absent (AWS itself, not a local API).
_S3_DEFAULTS = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_DEFAULT_REGION": "us-east-1",
    "OLIST_S3_ENDPOINT": "s3.amazonaws.com",
    "OLIST_S3_USE_SSL": "true",
    "OLIST_S3_URL_STYLE": "vhost",
}


@cache
def s3_env(aws_conn_id: str) -> dict[str, str]:
    """The connection's S3 settings as environment variables (resolved once per task)."""
    return {**_S3_DEFAULTS, **s3_credentials_from_airflow(aws_conn_id).env()}


def dbt_env_template(aws_conn_id: str | None) -> dict[str, str]:
    env = {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "OLIST_DBT_TARGET": "s3" if aws_conn_id else "local",
        "OLIST_DBT_DUCKDB_PATH": ":memory:",
        # A layer's task must not run tests that also read a later layer, not built yet.
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    extension_dir = duckdb_extension_dir()
    if extension_dir:
        env["OLIST_DUCKDB_EXTENSION_DIR"] = extension_dir
    if aws_conn_id:
        env.update(
            {name: "{{ " + f"{MACRO}('{aws_conn_id}')['{name}']" + " }}" for name in _S3_DEFAULTS}
        )
    return env

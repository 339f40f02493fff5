"""The environment of the dbt processes that Cosmos starts, as Airflow templates.

S3 credentials are read from the Airflow connection when the task runs (`{{ conn.<id> }}`),
never stored in the DAG or the repository; the dbt profile picks them up from the env.
"""

from __future__ import annotations

from include.olist_risk.transform import duckdb_extension_dir


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
        conn = f"conn['{aws_conn_id}']"
        endpoint = f"({conn}.extra_dejson.get('endpoint_url') or 'https://s3.amazonaws.com')"
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "{{ " + conn + ".login or '' }}",
                "AWS_SECRET_ACCESS_KEY": "{{ " + conn + ".password or '' }}",
                "AWS_DEFAULT_REGION": "{{ "
                + conn
                + ".extra_dejson.get('region_name') or 'us-east-1' }}",
                "OLIST_S3_ENDPOINT": "{{ "
                + endpoint
                + " | replace('https://', '') | replace('http://', '') }}",
                "OLIST_S3_USE_SSL": "{{ 'false' if "
                + endpoint
                + ".startswith('http://') else 'true' }}",
                "OLIST_S3_URL_STYLE": "{{ 'path' if "
                + conn
                + ".extra_dejson.get('endpoint_url') else 'vhost' }}",
            }
        )
    return env

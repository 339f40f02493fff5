"""Credentials for an S3 API (AWS or a local moto server), resolved from Airflow at run time.

Nothing here is stored: keys come from the Airflow connection (`aws_default`), its boto3
chain (the MWAA execution role with its session token), or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class S3Credentials:
    """What boto3 and DuckDB need to reach an S3 API (AWS or a local moto server)."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def boto3_client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
        )

    def env(self) -> dict[str, str]:
        """Environment for child processes (dbt, Soda) that open the lake themselves."""
        env = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        if self.access_key_id:
            env["AWS_ACCESS_KEY_ID"] = self.access_key_id
        if self.secret_access_key:
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        if self.endpoint_url:
            parsed = urlparse(self.endpoint_url)
            env["OLIST_S3_ENDPOINT"] = parsed.netloc
            env["OLIST_S3_USE_SSL"] = "true" if parsed.scheme == "https" else "false"
            env["OLIST_S3_URL_STYLE"] = "path"
        return env


def s3_credentials_from_airflow(conn_id: str) -> S3Credentials:
    """Resolve an Airflow AWS connection (its extra may set `endpoint_url`, as for moto)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=conn_id)
    frozen = hook.get_credentials()
    extra = hook.conn_config.extra_config if hook.conn_config else {}
    return S3Credentials(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        region=hook.conn_region_name or extra.get("region_name") or "us-east-1",
        endpoint_url=hook.conn_config.endpoint_url if hook.conn_config else None,
    )

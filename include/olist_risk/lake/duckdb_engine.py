"""DuckDB connections that can read and write the lake, offline.

httpfs is loaded from the `duckdb-ext-httpfs` wheel instead of `INSTALL httpfs`, which needs
the internet (MWAA workers in private subnets have none). Memory is bounded as in the dbt
profile: `OLIST_DUCKDB_MEMORY_LIMIT` (2GB; DuckDB's own default is 80% of the machine), spilling
beyond it into a directory of the connection's own under `OLIST_DUCKDB_SPILL_ROOT` (or TMPDIR,
or /tmp), which DuckDB removes when the connection closes.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from include.olist_risk.lake.credentials import S3Credentials


def extension_directory() -> str:
    import duckdb_ext

    return duckdb_ext.get_extension_dir()


def connect(
    database: str | Path = ":memory:",
    credentials: S3Credentials | None = None,
    *,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open DuckDB; with credentials, httpfs is loaded and an S3 secret created for the lake."""
    spill_root = os.environ.get("OLIST_DUCKDB_SPILL_ROOT") or tempfile.gettempdir()
    config = {
        "autoinstall_known_extensions": False,
        "extension_directory": extension_directory(),
        "memory_limit": os.environ.get("OLIST_DUCKDB_MEMORY_LIMIT") or "2GB",
        "temp_directory": str(Path(spill_root) / f"olist-duckdb-spill-{uuid.uuid4().hex}"),
    }
    con = duckdb.connect(str(database), read_only=read_only, config=config)
    if credentials is not None:
        con.execute("load httpfs")
        con.execute(s3_secret_sql(credentials))
    return con


def s3_secret_sql(credentials: S3Credentials) -> str:
    """A temporary DuckDB secret (never persisted in a database file) for the credentials."""

    def quote(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    options = ["type s3", f"region {quote(credentials.region)}"]
    if credentials.access_key_id:
        options.append(f"key_id {quote(credentials.access_key_id)}")
    if credentials.secret_access_key:
        options.append(f"secret {quote(credentials.secret_access_key)}")
    if credentials.session_token:
        options.append(f"session_token {quote(credentials.session_token)}")
    if credentials.endpoint_url:
        parsed = urlparse(credentials.endpoint_url)
        options.append(f"endpoint {quote(parsed.netloc)}")
        options.append("url_style 'path'")
        options.append(f"use_ssl {'true' if parsed.scheme == 'https' else 'false'}")
    return f"create or replace secret olist_lake ({', '.join(options)})"

"""One small interface over the lake: a local folder or an S3 prefix.

Keys are relative, `/`-separated paths (`raw/orders/batch=x/orders.parquet`); `uri(key)` gives
the address DuckDB and dbt read. Publishing is done by replacing one small pointer object,
which is atomic on both backends (`os.replace` locally, a single PUT on S3), so readers see
either the old batch or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from include.olist_risk.lake.credentials import S3Credentials


class Lake(Protocol):
    root: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, local_path: Path, key: str) -> None: ...
    def get_file(self, key: str, local_path: Path) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> None: ...


class LocalLake:
    """A lake in a local folder; every write lands whole or not at all (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root).resolve()
        self.root = str(self.path)

    def _file(self, key: str) -> Path:
        return self.path / key

    def uri(self, key: str) -> str:
        return str(self._file(key))

    def exists(self, key: str) -> bool:
        return self._file(key).exists()

    def read_bytes(self, key: str) -> bytes:
        return self._file(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)

    def put_file(self, local_path: Path, key: str) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        shutil.copyfile(local_path, tmp)
        os.replace(tmp, target)

    def get_file(self, key: str, local_path: Path) -> None:
        local_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._file(key), local_path)

    def list(self, prefix: str) -> list[str]:
        base = self._file(prefix)
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.path).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )

    def delete_prefix(self, prefix: str) -> None:
        target = self._file(prefix)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


class S3Lake:
    """A lake under `s3://bucket/prefix`; S3 PUTs are atomic per object."""

    def __init__(self, root: str, client: Any) -> None:
        parsed = urlparse(root)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3:// URI: {root!r}")
        self.root = root.rstrip("/")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, local_path: Path, key: str) -> None:
        self.client.upload_file(str(local_path), self.bucket, self._key(key))

    def get_file(self, key: str, local_path: Path) -> None:
        local_path.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, self._key(key), str(local_path))

    def list(self, prefix: str) -> list[str]:
        strip = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=strip + prefix):
            keys.extend(item["Key"][len(strip) :] for item in page.get("Contents", []))
        if not prefix:
            return sorted(keys)
        folder = prefix.rstrip("/") + "/"
        return sorted(key for key in keys if key == prefix or key.startswith(folder))

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(key)} for key in chunk]},
            )


def open_lake(uri: str, credentials: S3Credentials | None = None) -> Lake:
    """A lake at `uri`: `s3://...` through the credentials, anything else is a folder."""
    if uri.startswith("s3://"):
        return S3Lake(uri, (credentials or S3Credentials()).boto3_client())
    return LocalLake(uri)


def read_json(lake: Lake, key: str) -> Any:
    return json.loads(lake.read_bytes(key))


def write_json(lake: Lake, key: str, value: Any) -> None:
    lake.write_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode())

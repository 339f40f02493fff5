"""One small interface over the lake: a local folder or an S3 prefix.

Keys are relative, `/`-separated paths (`raw/orders/batch=x/orders.parquet`); `uri(key)` gives
the address DuckDB and dbt read. Publishing is done by replacing one small pointer object,
which is atomic on both backends (`os.replace` locally, a single PUT on S3), so readers see
either the old batch or the new one, never a mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
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
    def entries(self, prefix: str, recursive: bool) -> list[tuple[str, str]]: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def modified_times(self, prefix: str) -> dict[str, float]: ...
    def read_versioned(self, key: str) -> tuple[bytes | None, str | None]: ...
    def replace_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool: ...


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only
    read it by setting it, which would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_file(target: Path) -> tuple[int, str]:
    """A hidden temporary file beside `target` (same file system: the rename is atomic) with
    the mode an ordinary write would give it. mkstemp creates it 0600, and the rename would
    carry that to the lake file, unreadable to the rest of the group (issue 11, item 7)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def _discard(tmp: str) -> None:
    """A failed write leaves no temporary file behind."""
    Path(tmp).unlink(missing_ok=True)


class LocalLake:
    """A lake in a local folder; every write lands whole or not at all (temp file + rename).

    Files get the modes of an ordinary write (0666 less the umask, e.g. 0644), folders those
    of mkdir (0777 less the umask), and a failed write removes its temporary file.
    """

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
        fd, tmp = _temp_file(target)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            _discard(tmp)
            raise

    def put_file(self, local_path: Path, key: str) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_file(target)
        try:
            with os.fdopen(fd, "wb") as handle, open(local_path, "rb") as source:
                shutil.copyfileobj(source, handle)
            os.replace(tmp, target)
        except BaseException:
            _discard(tmp)
            raise

    def get_file(self, key: str, local_path: Path) -> None:
        """Copy a regular file of the lake; never through a symlink, never from outside it."""
        source = self._file(key)
        if not source.resolve().is_relative_to(self.path):
            raise OSError(f"{source} is outside {self.root}")
        # O_NOFOLLOW: a symlink swapped in after listing is refused, not read; O_NONBLOCK: a
        # FIFO does not block the open (it is then refused as not a regular file).
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise OSError(f"{source} is not a regular file")
            local_path.parent.mkdir(parents=True, exist_ok=True)
            with local_path.open("wb") as out:
                shutil.copyfileobj(handle, out)

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

    def entries(self, prefix: str, recursive: bool) -> list[tuple[str, str]]:
        """(key, kind) under `prefix`, without following links: kind is `file`, `symlink`,
        `special` (FIFO, device, socket) or `folder` (a subfolder not searched).

        `list()` is for the lake, which this code writes; this is for the landing zone, which
        people write, so nothing it returns leads outside the folder. Dot-files are skipped.
        """
        found: list[tuple[str, str]] = []

        def walk(folder: Path) -> None:
            with os.scandir(folder) as listing:
                for entry in sorted(listing, key=lambda e: e.name):
                    if entry.name.startswith("."):
                        continue
                    key = Path(entry.path).relative_to(self.path).as_posix()
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISLNK(mode):
                        found.append((key, "symlink"))
                    elif stat.S_ISDIR(mode):
                        if recursive:
                            walk(Path(entry.path))
                        else:
                            found.append((key, "folder"))
                    elif stat.S_ISREG(mode):
                        found.append((key, "file"))
                    else:
                        found.append((key, "special"))

        base = self._file(prefix)
        if base.is_symlink():
            return [(prefix, "symlink")]
        if base.is_dir():
            walk(base)
        return found

    def delete_prefix(self, prefix: str) -> None:
        target = self._file(prefix)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def modified_times(self, prefix: str) -> dict[str, float]:
        """key -> last modification (seconds since the epoch) of each file under `prefix`."""
        return {key: self._file(key).stat().st_mtime for key in self.list(prefix)}

    def read_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """The object's bytes and a version token for `replace_if_unchanged` (None, None if
        absent). The token is the content's hash: equal contents are the same state."""
        try:
            data = self._file(key).read_bytes()
        except FileNotFoundError:
            return None, None
        return data, hashlib.sha256(data).hexdigest()

    def replace_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
        """Compare-and-swap: write `data` only if the object is still at `version` (None: only
        if it does not exist). False if another writer got there first.

        An exclusive lock on a hidden file beside the object serialises writers on this
        machine (compare and replace are then one step); readers take no lock, since
        `os.replace` swaps the whole file at once. The data is fsynced before the rename, so the
        object never names a file that is still only in the page cache.
        """
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{target.name}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.read_versioned(key)[1] != version:
                return False
            fd, tmp = _temp_file(target)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        return True


class S3Lake:
    """A lake under `s3://bucket/prefix`; S3 PUTs are atomic per object.

    Each method is one call of boto3 (the client Airflow's `aws_default` connection gives,
    with its retries and managed multipart transfers). s3fs/fsspec would add a layer without
    removing one: the pointer flips need conditional PUTs (`IfMatch`/`IfNoneMatch`) and their
    ETags, which its file interface does not expose.
    """

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

    def entries(self, prefix: str, recursive: bool) -> list[tuple[str, str]]:
        """(key, kind) under `prefix`, as LocalLake's: S3 has only objects (`file`) and, when
        not recursive, the `folder`s (common prefixes) not searched."""
        base = prefix.rstrip("/") + "/" if prefix else ""
        found: dict[str, str] = {}
        for key in self.list(prefix):
            rest = key[len(base) :]
            if rest.split("/")[-1].startswith("."):
                continue
            if recursive or "/" not in rest:
                found[key] = "file"
            else:
                found[base + rest.split("/")[0]] = "folder"
        return sorted(found.items())

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(key)} for key in chunk]},
            )

    def modified_times(self, prefix: str) -> dict[str, float]:
        """key -> last modification (seconds since the epoch) of each object under `prefix`."""
        strip = f"{self.prefix}/" if self.prefix else ""
        wanted = set(self.list(prefix))
        times: dict[str, float] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=strip + prefix):
            for item in page.get("Contents", []):
                key = item["Key"][len(strip) :]
                if key in wanted:
                    times[key] = item["LastModified"].timestamp()
        return times

    def read_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """The object's bytes and its ETag, the token `replace_if_unchanged` compares."""
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None, None
            raise
        return response["Body"].read(), response["ETag"]

    def replace_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
        """Compare-and-swap in one conditional PUT (`If-Match: <ETag>`, or `If-None-Match: *`
        when the object must not exist yet): S3 applies it atomically, so of two writers that
        read the same version exactly one wins. False if the precondition failed."""
        from botocore.exceptions import ClientError

        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **condition)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            # 409 ConditionalRequestConflict: a concurrent conditional write is in flight.
            if code in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                return False
            raise
        return True


def open_lake(uri: str, credentials: S3Credentials | None = None) -> Lake:
    """A lake at `uri`: `s3://...` through the credentials, anything else is a folder."""
    if uri.startswith("s3://"):
        return S3Lake(uri, (credentials or S3Credentials()).boto3_client())
    return LocalLake(uri)


def read_json(lake: Lake, key: str) -> Any:
    return json.loads(lake.read_bytes(key))


def write_json(lake: Lake, key: str, value: Any) -> None:
    lake.write_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode())


def sha256_file(path: Path) -> str:
    """The hex sha256 of a local file, read in 1 MiB blocks (files may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

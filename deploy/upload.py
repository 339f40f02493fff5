"""Uploading a bundle: by content, by object version, removing DAG files that were deleted.

MWAA pins requirements, plugins and the startup script by S3 object version, so the bucket
must be versioned. Unchanged files are not re-uploaded (their SHA-256 is stored as object
metadata), so an unchanged plugins.zip keeps its version and needs no environment update.
"""

from __future__ import annotations

from typing import Any

from deploy.bundle import Artifact, Bundle
from deploy.errors import DeployError
from deploy.keys import DAGS_PREFIX


def ensure_versioned(s3: Any, bucket: str) -> None:
    """MWAA refers to plugins/requirements/startup by object version: no versioning, no deploy."""
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise DeployError(
            f"bucket {bucket} has versioning {status or 'never enabled'}; MWAA needs object "
            "versions: enable it (deploy/cloudformation/mwaa.yaml does)"
        )


def _current(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def upload_artifact(s3: Any, bucket: str, artifact: Artifact) -> tuple[str, bool]:
    """Put one object unless the latest version has the same SHA-256; return (version, sent)."""
    digest = artifact.sha256
    head = _current(s3, bucket, artifact.key)
    if head is not None and head.get("Metadata", {}).get("sha256") == digest:
        return head["VersionId"], False
    with artifact.path.open("rb") as body:
        response = s3.put_object(
            Bucket=bucket, Key=artifact.key, Body=body, Metadata={"sha256": digest}
        )
    version = response.get("VersionId")
    if not version:
        raise DeployError(f"no VersionId for s3://{bucket}/{artifact.key}: is versioning on?")
    return version, True


def stale_dag_keys(s3: Any, bucket: str, keep: set[str]) -> list[str]:
    """Keys under dags/ that this deploy no longer ships (a deleted DAG must stop running)."""
    paginator = s3.get_paginator("list_objects_v2")
    stale = []
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{DAGS_PREFIX}/"):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in keep]
    return stale


def upload_bundle(s3: Any, bucket: str, bundle: Bundle) -> dict[str, str]:
    """Upload everything, delete stale DAG files (recoverable: the bucket is versioned).

    Returns key -> VersionId for every shipped object.
    """
    ensure_versioned(s3, bucket)
    versions: dict[str, str] = {}
    for artifact in bundle.all:
        versions[artifact.key], sent = upload_artifact(s3, bucket, artifact)
        state = "uploaded" if sent else "unchanged"
        print(f"{state:9} s3://{bucket}/{artifact.key} {versions[artifact.key]}")
    stale = stale_dag_keys(s3, bucket, {a.key for a in bundle.dag_files})
    for start in range(0, len(stale), 1000):
        batch = [{"Key": key} for key in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    for key in stale:
        print(f"deleted   s3://{bucket}/{key}")
    return versions

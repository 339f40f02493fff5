"""Deploying against a real S3 API (moto server) and botocore's own MWAA service model.

moto has no MWAA API, so the MWAA client is wrapped in botocore's Stubber: it validates every
request against the MWAA service model and checks the versions passed are the uploaded ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from deploy import deploy
from deploy.deploy import DeployError, update_request
from tests.deploy.conftest import REPO_ROOT

ENV = "olist-test"
ENV_ARN = f"arn:aws:airflow:us-east-1:123456789012:environment/{ENV}"
VERSIONED_KEYS = ("plugins.zip", "requirements.txt", "startup.sh")


def _args(project: Path, bucket: str, wheelhouse: Path | None, **extra: Any) -> argparse.Namespace:
    argv = ["--bucket", bucket, "--environment", ENV, "--project-root", str(project)]
    if wheelhouse is not None:
        argv += ["--wheelhouse", str(wheelhouse)]
    for flag, value in extra.items():
        if value is True:
            argv.append(f"--{flag.replace('_', '-')}")
    return deploy._parser().parse_args(argv)


def _environment(status: str, versions: dict[str, str] | None = None) -> dict[str, Any]:
    """A GetEnvironment response; Stubber validates it against the output shape too."""
    env: dict[str, Any] = {
        "Name": ENV,
        "Arn": ENV_ARN,
        "Status": status,
        "AirflowVersion": "3.3.1",
        "CreatedAt": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "DagS3Path": "dags",
    }
    if versions:
        env.update({k: v for k, v in update_request(ENV, versions).items() if k != "Name"})
    return {"Environment": env}


@pytest.fixture
def mwaa(aws_env: None) -> Any:
    return boto3.client("mwaa", region_name="us-east-1")


def _versions(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v for v in listed if v["Key"] == key]


def test_deploy_uploads_versions_and_updates_environment(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    s3.put_object(Bucket=versioned_bucket, Key="dags/removed_dag.py", Body=b"# gone")
    stub = Stubber(mwaa)
    stub.add_response("get_environment", _environment("AVAILABLE"), {"Name": ENV})

    # The expected update is only known after the upload, so capture it via a callback.
    captured: dict[str, str] = {}
    real_upload = deploy.upload_bundle

    def upload_then_expect(client: Any, bucket: str, bundle: deploy.Bundle) -> dict[str, str]:
        versions = real_upload(client, bucket, bundle)
        captured.update(versions)
        stub.add_response("update_environment", {"Arn": ENV_ARN}, update_request(ENV, versions))
        return versions

    with stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy, "upload_bundle", upload_then_expect)
        returned = deploy.deploy(
            _args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa
        )
        stub.assert_no_pending_responses()

    assert returned == captured
    for key in VERSIONED_KEYS:
        head = s3.head_object(Bucket=versioned_bucket, Key=key)
        assert head["VersionId"] == returned[key]
        assert [v["VersionId"] for v in _versions(s3, versioned_bucket, key)] == [returned[key]]
    body = s3.get_object(Bucket=versioned_bucket, Key="dags/include/olist_risk/config.py")
    assert body["Body"].read() == (fake_project / "include/olist_risk/config.py").read_bytes()
    assert "dags/dbt_project/target/manifest.json" in returned
    with pytest.raises(ClientError):
        s3.head_object(Bucket=versioned_bucket, Key="dags/removed_dag.py")
    # ...but recoverable: the bucket is versioned.
    assert _versions(s3, versioned_bucket, "dags/removed_dag.py")


def test_redeploy_of_unchanged_project_uploads_and_updates_nothing(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    first = deploy.deploy(
        _args(fake_project, versioned_bucket, wheelhouse, skip_update=True), s3=s3, mwaa=mwaa
    )
    stub = Stubber(mwaa)
    stub.add_response("get_environment", _environment("AVAILABLE", first), {"Name": ENV})
    with stub:  # an update_environment call would raise: no response is queued for it
        second = deploy.deploy(_args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa)
        stub.assert_no_pending_responses()
    assert second == first
    for key in VERSIONED_KEYS:
        assert len(_versions(s3, versioned_bucket, key)) == 1


def test_changed_plugin_gives_a_new_version_only_for_plugins(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    first = deploy.deploy(
        _args(fake_project, versioned_bucket, wheelhouse, skip_update=True), s3=s3, mwaa=mwaa
    )
    (fake_project / "plugins/olist_views.py").write_text("# a changed plugin\n")
    second = deploy.deploy(
        _args(fake_project, versioned_bucket, wheelhouse, skip_update=True), s3=s3, mwaa=mwaa
    )
    assert second["plugins.zip"] != first["plugins.zip"]
    assert second["requirements.txt"] == first["requirements.txt"]
    assert second["startup.sh"] == first["startup.sh"]


def test_unversioned_bucket_fails_before_uploading(
    s3: Any, mwaa: Any, fake_project: Path, wheelhouse: Path
) -> None:
    s3.create_bucket(Bucket="airflow-unversioned")
    with pytest.raises(DeployError, match="versioning"):
        deploy.deploy(_args(fake_project, "airflow-unversioned", wheelhouse), s3=s3, mwaa=mwaa)
    assert s3.list_objects_v2(Bucket="airflow-unversioned").get("KeyCount") == 0


def test_environment_busy_fails_clearly(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    stub = Stubber(mwaa)
    stub.add_response("get_environment", _environment("UPDATING"), {"Name": ENV})
    with stub, pytest.raises(DeployError, match="UPDATING"):
        deploy.deploy(_args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa)


def test_dry_run_prints_the_plan_and_touches_nothing(
    s3: Any,
    mwaa: Any,
    versioned_bucket: str,
    fake_project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No wheelhouse given: a dry run must not download one, upload, or call MWAA."""
    stub = Stubber(mwaa)
    with stub:
        result = deploy.deploy(
            _args(fake_project, versioned_bucket, None, dry_run=True), s3=s3, mwaa=mwaa
        )
    assert result == {}
    assert "Versions" not in s3.list_object_versions(Bucket=versioned_bucket)
    out = capsys.readouterr().out
    assert "would build the wheelhouse" in out and "pip download" in out
    assert f"s3://{versioned_bucket}/dags/include/olist_risk/config.py" in out
    assert f"s3://{versioned_bucket}/plugins.zip" in out
    assert "mwaa.update_environment(" in out and '"StartupScriptS3Path": "startup.sh"' in out


def test_cli_dry_run_runs_as_a_module(
    fake_project: Path, wheelhouse: Path, moto_endpoint: str
) -> None:
    """`python -m deploy.deploy --dry-run` works without any AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cmd = [sys.executable, "-m", "deploy.deploy", "--bucket", "airflow-x", "--environment", ENV]
    cmd += ["--project-root", str(fake_project), "--wheelhouse", str(wheelhouse)]
    cmd += ["--endpoint-url", moto_endpoint, "--dry-run"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "Deploy plan for MWAA environment 'olist-test'" in result.stdout
    assert "s3://airflow-x/requirements.txt" in result.stdout

"""Deploying against a real S3 API (moto server) and botocore's own MWAA/CloudFormation models.

moto has no MWAA API, so the MWAA client is wrapped in botocore's Stubber: it validates every
request against the MWAA service model and checks the versions passed are the uploaded ones.
The CloudFormation path (--stack) is stubbed the same way, so the exact create/update
requests, their parameters and the waiting are checked without AWS.
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

from deploy import cli
from deploy.bundle import Bundle
from deploy.environment import update_request
from deploy.errors import DeployError
from deploy.stack import CAPABILITIES, load_template, template_body
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
        elif isinstance(value, str):
            argv += [f"--{flag.replace('_', '-')}", value]
        elif isinstance(value, list):
            for item in value:
                argv += [f"--{flag.replace('_', '-')}", item]
    return cli._parser().parse_args(argv)


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
    real_upload = cli.upload_bundle

    def upload_then_expect(client: Any, bucket: str, bundle: Bundle) -> dict[str, str]:
        versions = real_upload(client, bucket, bundle)
        captured.update(versions)
        stub.add_response("update_environment", {"Arn": ENV_ARN}, update_request(ENV, versions))
        return versions

    with stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "upload_bundle", upload_then_expect)
        returned = cli.deploy(_args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa)
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
    first = cli.deploy(
        _args(fake_project, versioned_bucket, wheelhouse, skip_update=True), s3=s3, mwaa=mwaa
    )
    stub = Stubber(mwaa)
    stub.add_response("get_environment", _environment("AVAILABLE", first), {"Name": ENV})
    with stub:  # an update_environment call would raise: no response is queued for it
        second = cli.deploy(_args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa)
        stub.assert_no_pending_responses()
    assert second == first
    for key in VERSIONED_KEYS:
        assert len(_versions(s3, versioned_bucket, key)) == 1


def test_changed_plugin_gives_a_new_version_only_for_plugins(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    first = cli.deploy(
        _args(fake_project, versioned_bucket, wheelhouse, skip_update=True), s3=s3, mwaa=mwaa
    )
    (fake_project / "plugins/olist_views.py").write_text("# a changed plugin\n")
    second = cli.deploy(
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
        cli.deploy(_args(fake_project, "airflow-unversioned", wheelhouse), s3=s3, mwaa=mwaa)
    assert s3.list_objects_v2(Bucket="airflow-unversioned").get("KeyCount") == 0


def test_environment_busy_fails_clearly(
    s3: Any, mwaa: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    stub = Stubber(mwaa)
    stub.add_response("get_environment", _environment("UPDATING"), {"Name": ENV})
    with stub, pytest.raises(DeployError, match="UPDATING"):
        cli.deploy(_args(fake_project, versioned_bucket, wheelhouse), s3=s3, mwaa=mwaa)


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
        result = cli.deploy(
            _args(fake_project, versioned_bucket, None, dry_run=True), s3=s3, mwaa=mwaa
        )
    assert result == {}
    assert "Versions" not in s3.list_object_versions(Bucket=versioned_bucket)
    out = capsys.readouterr().out
    assert "would build the wheelhouse" in out and "pip download" in out
    assert f"s3://{versioned_bucket}/dags/include/olist_risk/config.py" in out
    assert f"s3://{versioned_bucket}/plugins.zip" in out
    assert "mwaa.update_environment(" in out and '"StartupScriptS3Path": "startup.sh"' in out
    assert "what ships (top level):" in out
    assert "dags/        .airflowignore, dbt_project, feature_store.py, include" in out
    assert "not shipped" in out
    assert "PluginsS3ObjectVersion=<VersionId of plugins.zip after upload>" in out


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


# ------------------------------------------------------------------ through CloudFormation

STACK = "olist-stack"


def _stack(status: str, params: dict[str, str] | None = None, reason: str = "") -> dict:
    """A DescribeStacks response; Stubber validates it against the output shape."""
    stack: dict[str, Any] = {
        "StackName": STACK,
        "StackStatus": status,
        "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": v} for k, v in sorted((params or {}).items())
        ],
    }
    if reason:
        stack["StackStatusReason"] = reason
    return {"Stacks": [stack]}


@pytest.fixture
def cfn(aws_env: None) -> Any:
    return boto3.client("cloudformation", region_name="us-east-1")


def _missing(stub: Stubber) -> None:
    stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
        expected_params={"StackName": STACK},
    )


def test_stack_deploy_creates_the_stack_uploads_then_updates_it(
    s3: Any,
    mwaa: Any,
    cfn: Any,
    versioned_bucket: str,
    fake_project: Path,
    wheelhouse: Path,
) -> None:
    """From nothing: create without an environment, upload, then update with the versions."""
    base = {"BucketName": versioned_bucket, "EnvironmentName": ENV, "KmsKey": "create"}
    body = template_body()
    stub = Stubber(cfn)
    _missing(stub)
    stub.add_response(
        "create_stack",
        {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/olist-stack/1"},
        {
            "StackName": STACK,
            "TemplateBody": body,
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in sorted({**base, "CreateEnvironment": "false"}.items())
            ],
            "Capabilities": CAPABILITIES,
        },
    )
    stub.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": STACK})
    created = {**base, "CreateEnvironment": "false", "EnvironmentClass": "mw1.small"}
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE", created), {"StackName": STACK})

    real_upload = cli.upload_bundle

    def upload_then_expect(client: Any, bucket: str, bundle: Bundle) -> dict[str, str]:
        # The stack (and so the bucket) is complete before anything is uploaded.
        stub.assert_no_pending_responses()
        versions = real_upload(client, bucket, bundle)
        stub.add_response(
            "describe_stacks", _stack("CREATE_COMPLETE", created), {"StackName": STACK}
        )
        wanted = {
            **base,
            "CreateEnvironment": "true",
            "PluginsS3ObjectVersion": versions["plugins.zip"],
            "RequirementsS3ObjectVersion": versions["requirements.txt"],
            "StartupScriptS3ObjectVersion": versions["startup.sh"],
        }
        stub.add_response(
            "update_stack",
            {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/olist-stack/1"},
            {
                "StackName": STACK,
                "TemplateBody": body,
                # Set values first, then every other known parameter keeps its value.
                "Parameters": [
                    *({"ParameterKey": k, "ParameterValue": v} for k, v in sorted(wanted.items())),
                    {"ParameterKey": "EnvironmentClass", "UsePreviousValue": True},
                ],
                "Capabilities": CAPABILITIES,
            },
        )
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK})
        return versions

    slept: list[float] = []
    args = _args(
        fake_project, versioned_bucket, wheelhouse, stack=STACK, parameter=["KmsKey=create"]
    )
    with stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "upload_bundle", upload_then_expect)
        versions = cli.deploy(args, s3=s3, mwaa=mwaa, cfn=cfn, sleep=slept.append)
        stub.assert_no_pending_responses()
    assert slept == [30.0], "one poll while the creation was in progress"
    assert set(versions) >= set(VERSIONED_KEYS)


def test_stack_already_current_is_not_updated(
    s3: Any,
    mwaa: Any,
    cfn: Any,
    versioned_bucket: str,
    fake_project: Path,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    current = {"BucketName": versioned_bucket, "EnvironmentName": ENV}
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", current), {"StackName": STACK})
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", current), {"StackName": STACK})
    stub.add_client_error(
        "update_stack",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
    )
    with stub:
        cli.deploy(
            _args(fake_project, versioned_bucket, wheelhouse, stack=STACK),
            s3=s3,
            mwaa=mwaa,
            cfn=cfn,
            sleep=lambda _: None,
        )
        stub.assert_no_pending_responses()
    assert "stack already current" in capsys.readouterr().out


def test_failed_stack_update_reports_the_reason(
    s3: Any, mwaa: Any, cfn: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    current = {"BucketName": versioned_bucket, "EnvironmentName": ENV}
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE", current), {"StackName": STACK})
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE", current), {"StackName": STACK})
    stub.add_response("update_stack", {"StackId": "arn:aws:cloudformation:x"})
    stub.add_response(
        "describe_stacks",
        _stack("UPDATE_ROLLBACK_COMPLETE", current, reason="Environment: CREATE_FAILED"),
        {"StackName": STACK},
    )
    with stub, pytest.raises(DeployError, match=r"UPDATE_ROLLBACK_COMPLETE.*CREATE_FAILED"):
        cli.deploy(
            _args(fake_project, versioned_bucket, wheelhouse, stack=STACK),
            s3=s3,
            mwaa=mwaa,
            cfn=cfn,
            sleep=lambda _: None,
        )


def test_stack_for_another_bucket_is_refused_before_uploading(
    s3: Any, mwaa: Any, cfn: Any, versioned_bucket: str, fake_project: Path, wheelhouse: Path
) -> None:
    """A different BucketName would make CloudFormation create a new bucket: refuse it."""
    other = {"BucketName": "someone-elses-lake", "EnvironmentName": ENV}
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE", other), {"StackName": STACK})
    with stub, pytest.raises(DeployError, match="someone-elses-lake"):
        cli.deploy(
            _args(fake_project, versioned_bucket, wheelhouse, stack=STACK),
            s3=s3,
            mwaa=mwaa,
            cfn=cfn,
            sleep=lambda _: None,
        )
    assert "Versions" not in s3.list_object_versions(Bucket=versioned_bucket)


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("Netwrok=existing", "Netwrok"),
        ("BucketName=other", "set by the command"),
        ("PluginsS3ObjectVersion=v0", "set by the command"),
        ("Network", "expected KEY=VALUE"),
    ],
)
def test_bad_stack_parameter_fails_clearly(
    fake_project: Path, wheelhouse: Path, parameter: str, message: str
) -> None:
    args = _args(fake_project, "b", wheelhouse, stack=STACK, parameter=[parameter])
    with pytest.raises(DeployError, match=message):
        cli.deploy(args)


@pytest.mark.parametrize(
    ("status", "params", "message"),
    [
        ("ROLLBACK_COMPLETE", {}, "delete it and re-run"),
        ("UPDATE_IN_PROGRESS", {}, "wait for it"),
        ("UPDATE_COMPLETE", {"EnvironmentName": "another-env"}, "EnvironmentName=another-env"),
    ],
)
def test_stack_that_cannot_take_this_deploy_is_refused_before_uploading(
    s3: Any,
    mwaa: Any,
    cfn: Any,
    versioned_bucket: str,
    fake_project: Path,
    wheelhouse: Path,
    status: str,
    params: dict[str, str],
    message: str,
) -> None:
    current = {"BucketName": versioned_bucket, "EnvironmentName": ENV, **params}
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", _stack(status, current), {"StackName": STACK})
    with stub, pytest.raises(DeployError, match=message):
        cli.deploy(
            _args(fake_project, versioned_bucket, wheelhouse, stack=STACK),
            s3=s3,
            mwaa=mwaa,
            cfn=cfn,
            sleep=lambda _: None,
        )
    assert "Versions" not in s3.list_object_versions(Bucket=versioned_bucket)


def test_dry_run_with_stack_prints_both_parameter_sets(
    fake_project: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(
        fake_project,
        "my-lake",
        wheelhouse,
        stack=STACK,
        dry_run=True,
        parameter=["Network=private-nat"],
    )
    assert cli.deploy(args) == {}
    out = capsys.readouterr().out
    create = out.split(f"stack {STACK}: if missing")[1].split("then update")[0]
    assert "CreateEnvironment=false" in create and "Network=private-nat" in create
    update = out.split(f"then update stack {STACK}")[1]
    assert "CreateEnvironment=true" in update and "BucketName=my-lake" in update
    assert "PluginsS3ObjectVersion=<VersionId of plugins.zip after upload>" in update
    # Every parameter the plan names exists in the template.
    declared = set(load_template()["Parameters"])
    named = {
        line.split("=")[0].strip()
        for line in out.splitlines()
        if "=" in line
        and line.startswith("    ")
        and not line.strip().startswith(("put", "+", '"'))
    }
    assert named <= declared, named - declared

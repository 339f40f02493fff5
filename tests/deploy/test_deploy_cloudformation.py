"""The CloudFormation template: lint-clean, Airflow pinned like local runs, least privilege."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy/cloudformation/mwaa.yaml"
# Actions that take no resource ARN (or live in MWAA's own account): "*" is all IAM allows.
UNSCOPABLE = {"logs:DescribeLogGroups", "cloudwatch:PutMetricData"}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub...) read as {"Fn": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass


def _cfn_lint() -> str:
    found = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    if not Path(found).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("cfn-lint is missing: CI must lint the template")
        pytest.skip("cfn-lint not installed")
    return found


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run([_cfn_lint(), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_airflow_version_matches_local_pin(template: dict[str, Any]) -> None:
    local = (REPO_ROOT / "requirements/local.in").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)", local, flags=re.M)
    assert pinned, "requirements/local.in must pin apache-airflow"
    props = template["Resources"]["Environment"]["Properties"]
    assert props["AirflowVersion"] == pinned[1]
    mwaa_reqs = (REPO_ROOT / "deploy/mwaa/requirements.txt").read_text()
    assert f"\napache-airflow=={pinned[1]}\n" in mwaa_reqs


def test_bucket_is_versioned_encrypted_and_private(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["SourceBucket"]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert bucket["DeletionPolicy"] == "Retain", "the lake must outlive the stack"


def test_environment_pins_objects_by_version_and_logs(template: dict[str, Any]) -> None:
    props = template["Resources"]["Environment"]["Properties"]
    for name in ("Plugins", "Requirements", "StartupScript"):
        assert props[f"{name}S3ObjectVersion"] == {"Ref": f"{name}S3ObjectVersion"}
    assert props["StartupScriptS3Path"] == "startup.sh"
    assert props["DagS3Path"] == "dags"
    assert props["NetworkConfiguration"]["SubnetIds"] == {"Ref": "SubnetIds"}
    assert template["Parameters"]["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    logs = props["LoggingConfiguration"]
    assert len(logs) == 5 and all(module["Enabled"] for module in logs.values())


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["ExecutionRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_role_has_no_wildcard_where_the_resource_is_known(template: dict[str, Any]) -> None:
    for statement in _statements(template):
        actions = set(_as_list(statement["Action"]))
        resources = _as_list(statement.get("Resource", []))
        if actions <= UNSCOPABLE:
            continue
        assert "*" not in resources, f"{statement.get('Sid')}: '*' where a name is known"
        text = repr(resources)
        if any(a.startswith("s3:") for a in actions):
            assert "SourceBucket" in text, statement
        if any(a.startswith("logs:") for a in actions):
            assert "log-group:airflow-${EnvironmentName}-" in text, statement
        if any(a.startswith("airflow:") for a in actions):
            assert "environment/${EnvironmentName}" in text, statement


def test_role_writes_only_lake_and_landing(template: dict[str, Any]) -> None:
    """DAG code must not be able to rewrite dags/, plugins.zip or requirements.txt."""
    for statement in _statements(template):
        if statement["Effect"] != "Allow":
            continue
        writes = [a for a in _as_list(statement["Action"]) if a in {"s3:PutObject", "s3:*"}]
        if writes:
            subs = [r["Sub"] for r in _as_list(statement["Resource"])]
            assert subs == ["${SourceBucket.Arn}/lake/*", "${SourceBucket.Arn}/landing/*"]

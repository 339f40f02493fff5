"""cfn_nag-style rules on the parsed template: least privilege, proven statement by statement.

Every policy document in the template (the execution role's, the bucket policy, the key
policy) is flattened, both branches of each `!If` included, and checked:

* no `*` (or NotResource) resource except for the actions AWS offers no resource for,
  each listed below with the reason;
* no `*` or `service:*` action in an Allow; wildcard action names only where listed;
* no Allow to the `*` principal;
* the role reads exactly the shipped files, the landing zone and the lake; writes only the
  lake's top-level prefixes (which must be the prefixes include/olist_risk/lake/layout.py
  defines); deletes only where the pipeline's retention deletes; never touches landing/;
* the bucket blocks public access, refuses non-TLS requests, is encrypted and versioned;
* the optional key rotates, is retained, and lets in only the account, the environment's
  log groups and the execution role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.keys import (
    DAGS_PREFIX,
    LAKE_PREFIX,
    LANDING_PREFIX,
    PLUGINS_KEY,
    REQUIREMENTS_KEY,
    STARTUP_KEY,
)
from deploy.stack import load_template
from include.olist_risk.lake import layout
from tests.deploy.conftest import REPO_ROOT

# Actions AWS requires `Resource: "*"` for, each with the reason. Nothing else may use it.
STAR_RESOURCE_ACTIONS = {
    "logs:DescribeLogGroups": (
        "lists log groups: MWAA's documented execution-role policy grants it on *; it cannot "
        "be narrowed to the environment's airflow-<env>-* groups"
    ),
    "cloudwatch:PutMetricData": (
        "has no resource type in IAM; narrowed instead by the cloudwatch:namespace condition "
        "to AmazonMWAA"
    ),
    "s3:GetAccountPublicAccessBlock": (
        "an account-level setting with no resource type; MWAA reads it to check the bucket "
        "cannot be made public"
    ),
    "ecr:GetAuthorizationToken": (
        "the registry login token (DbtExecution=aws_ecs, the dbt task execution role) has no "
        "resource type: it is account-wide; pulling is then limited to the stack's repository"
    ),
}
# Statements that use NotResource, by Sid, with the reason.
NOT_RESOURCE_STATEMENTS = {
    "CeleryQueueAwsOwnedKey": (
        "without a customer key the Celery queue is encrypted with a key MWAA owns in its own "
        "account, whose ARN is not published: every key except this account's, only through "
        "SQS (kms:ViaService), as the MWAA user guide's execution-role policy does"
    ),
}
# Wildcard action names (not `*` alone), with the reason.
WILDCARD_ACTIONS = {
    "kms:GenerateDataKey*": (
        "the MWAA user guide's policy for the AWS-owned queue key; SQS calls both "
        "GenerateDataKey and GenerateDataKeyWithoutPlaintext"
    ),
}
# Resources in another account (`:*:` in the account field), with the reason.
OTHER_ACCOUNT_RESOURCES = {
    "arn:${AWS::Partition}:sqs:${AWS::Region}:*:airflow-celery-*": (
        "the Celery queue lives in an account owned by MWAA"
    ),
}
# AWS managed policies attached to roles, with the reason.
MANAGED_POLICIES = {
    "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore": (
        "the SSM agent on the optional UI-access instance (UiAccess=ssm): register and open "
        "Session Manager sessions; the instance has no other permission"
    ),
}
BUCKET = "arn:${AWS::Partition}:s3:::${BucketName}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _branches(value: Any) -> Iterator[Any]:
    """Every value an `!If` can take (both branches), minus AWS::NoValue."""
    if isinstance(value, dict) and set(value) == {"If"}:
        for branch in value["If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> list[str]:
    """A Resource/Action value as comparable strings: Sub templates, GetAtt/Ref markers."""
    found: list[str] = []
    for item in _as_list(value):
        for branch in _branches(item):
            if isinstance(branch, str):
                found.append(branch)
            elif "Sub" in branch:
                found.append(branch["Sub"] if isinstance(branch["Sub"], str) else branch["Sub"][0])
            elif "GetAtt" in branch:
                found.append("GetAtt:" + str(branch["GetAtt"]))
            elif "Ref" in branch:
                found.append("Ref:" + branch["Ref"])
            else:
                raise AssertionError(f"unexpected value {branch!r}")
    return found


def _documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource, kind, policy document) for every policy in the template."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield name, "identity", policy["PolicyDocument"]
        elif kind in {"AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"}:
            yield name, "identity", props["PolicyDocument"]
        elif kind == "AWS::S3::BucketPolicy":
            yield name, "bucket", props["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield name, "key", props["KeyPolicy"]


def _statements(template: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    found = []
    for _, doc_kind, document in _documents(template):
        if kind is None or doc_kind == kind:
            for statement in document["Statement"]:
                found += list(_branches(statement))
    return found


# The dbt task's roles (DbtExecution=aws_ecs): checked on their own below.
DBT_TASK_ROLES = {"DbtTaskRole", "DbtTaskExecutionRole"}


def _role_allows(template: dict[str, Any], *, dbt_task: bool = True) -> list[dict[str, Any]]:
    """Allow statements of identity policies (the dbt task's roles too unless told not to)."""
    found = []
    for name, kind, document in _documents(template):
        if kind != "identity" or (not dbt_task and name in DBT_TASK_ROLES):
            continue
        for statement in document["Statement"]:
            found += [s for s in _branches(statement) if s["Effect"] == "Allow"]
    return found


def _resources_for(template: dict[str, Any], action: str, *, dbt_task: bool = True) -> set[str]:
    return {
        resource
        for s in _role_allows(template, dbt_task=dbt_task)
        if action in _as_list(s["Action"])
        for resource in _strings(s.get("Resource", []))
    }


def test_every_policy_is_found(template: dict[str, Any]) -> None:
    kinds = [kind for _, kind, _ in _documents(template)]
    assert sorted(set(kinds)) == ["bucket", "identity", "key"]


def test_no_star_resource_outside_the_allow_list(template: dict[str, Any]) -> None:
    for statement in _statements(template, "identity"):
        actions = set(_as_list(statement["Action"]))
        if "NotResource" in statement:
            assert statement.get("Sid") in NOT_RESOURCE_STATEMENTS, statement
            continue
        resources = _strings(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"], statement
            assert actions <= STAR_RESOURCE_ACTIONS.keys(), (
                f"{statement.get('Sid')}: {sorted(actions - STAR_RESOURCE_ACTIONS.keys())} "
                "on '*': name the resource, or add the action with AWS's reason"
            )
    # Every allow-listed exception is still used (a stale list hides nothing).
    used = {
        a
        for s in _statements(template, "identity")
        if "*" in _strings(s.get("Resource", []))
        for a in _as_list(s["Action"])
    }
    assert used == STAR_RESOURCE_ACTIONS.keys()


def test_star_resources_that_remain_are_conditioned_where_aws_allows(
    template: dict[str, Any],
) -> None:
    metrics = [s for s in _role_allows(template) if s["Action"] == "cloudwatch:PutMetricData"]
    assert [s["Condition"] for s in metrics] == [
        {"StringEquals": {"cloudwatch:namespace": "AmazonMWAA"}}
    ]
    for statement in _statements(template, "identity"):
        if "NotResource" in statement:
            assert statement["Condition"]["StringLike"]["kms:ViaService"] == {
                "Sub": "sqs.${AWS::Region}.amazonaws.com"
            }


def test_no_wildcard_actions_in_allows(template: dict[str, Any]) -> None:
    for statement in _statements(template):
        if statement["Effect"] != "Allow":
            continue
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement
            if "*" in action:
                assert action in WILDCARD_ACTIONS, f"{statement.get('Sid')}: {action}"


def test_no_allow_to_everyone(template: dict[str, Any]) -> None:
    for statement in _statements(template):
        principal = statement.get("Principal")
        if statement["Effect"] == "Allow" and principal is not None:
            assert principal != "*" and principal != {"AWS": "*"}, statement


def test_other_account_resources_are_listed(template: dict[str, Any]) -> None:
    for statement in _statements(template, "identity"):
        for resource in _strings(statement.get("Resource", [])):
            if re.match(r"arn:[^:]+:[^:]+:[^:]*:\*:", resource):
                assert resource in OTHER_ACCOUNT_RESOURCES, resource


def test_every_role_statement_has_a_sid(template: dict[str, Any]) -> None:
    sids = [s.get("Sid") for s in _statements(template, "identity")]
    assert all(sids) and len(sids) == len(set(sids)), sids


def test_trust_policy_is_mwaa_in_this_account_only(template: dict[str, Any]) -> None:
    trust = template["Resources"]["ExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {
        "Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


# ----------------------------------------------------------------------------- S3 access


def _lake_prefixes() -> set[str]:
    """The lake's top-level prefixes, as include/olist_risk/lake/layout.py documents them."""
    text = (REPO_ROOT / "include/olist_risk/lake/layout.py").read_text()
    docstring = text.split('"""')[1]
    return set(re.findall(r"^ {4}([a-z_]+)/", docstring, flags=re.M))


def test_role_reads_exactly_what_is_shipped_landed_and_built(template: dict[str, Any]) -> None:
    expected = {
        f"{BUCKET}/{DAGS_PREFIX}/*",
        f"{BUCKET}/{PLUGINS_KEY}",
        f"{BUCKET}/{REQUIREMENTS_KEY}",
        f"{BUCKET}/{STARTUP_KEY}",
        f"{BUCKET}/{LANDING_PREFIX}/*",
        f"{BUCKET}/{LAKE_PREFIX}/*",
    }
    assert _resources_for(template, "s3:GetObject", dbt_task=False) == expected
    assert _resources_for(template, "s3:GetObjectVersion", dbt_task=False) == expected
    for statement in _role_allows(template):
        s3_actions = {a for a in _as_list(statement["Action"]) if a.startswith("s3:")}
        bucket_level = {
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
        }
        if s3_actions & bucket_level:
            assert s3_actions <= bucket_level, statement
            assert _strings(statement["Resource"]) == [BUCKET], statement


def test_role_writes_only_the_lakes_prefixes(template: dict[str, Any]) -> None:
    """DAG code must not rewrite dags/, plugins.zip, requirements.txt, startup.sh or landing/."""
    prefixes = _lake_prefixes()
    assert prefixes == {"raw", "quarantine", "warehouse", "feature_store", "reports", "catalog"}
    expected = {f"{BUCKET}/{LAKE_PREFIX}/{p}/*" for p in prefixes}
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert _resources_for(template, action) == expected, action
    writes = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:RestoreObject"}
    for statement in _role_allows(template):
        actions = set(_as_list(statement["Action"]))
        if actions & writes or any(a.startswith(("s3:Put", "s3:Delete")) for a in actions):
            for resource in _strings(statement["Resource"]):
                assert resource.startswith(f"{BUCKET}/{LAKE_PREFIX}/"), (statement, resource)


def test_role_deletes_only_where_retention_deletes(template: dict[str, Any]) -> None:
    """feature_store/publish.py's collect_garbage: expired run builds, old publications."""
    assert _resources_for(template, "s3:DeleteObject") == {
        f"{BUCKET}/{LAKE_PREFIX}/warehouse/runs/*",
        f"{BUCKET}/{LAKE_PREFIX}/feature_store/publications/*",
        f"{BUCKET}/{LAKE_PREFIX}/feature_store/snapshot_date=*",
        f"{BUCKET}/{LAKE_PREFIX}/feature_store/_manifests/*",
    }
    # The pointers readers follow can be replaced (PutObject), never deleted.
    for pointer in ("raw/_current.json", "feature_store/_current.json", "warehouse/_latest.json"):
        key = f"{BUCKET}/{LAKE_PREFIX}/{pointer}"
        patterns = _resources_for(template, "s3:DeleteObject")
        assert not any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), key) for p in patterns)
    for statement in _role_allows(template):
        for action in _as_list(statement["Action"]):
            # Versions are never destroyed: the bucket's lifecycle rule owns that.
            assert action not in {"s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration"}
            assert not action.startswith(("s3:PutBucket", "s3:DeleteBucket")), action
        for resource in _strings(statement.get("Resource", [])):
            if f"/{LANDING_PREFIX}/" in resource:
                assert set(_as_list(statement["Action"])) <= {
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                }, statement


def test_retention_deletes_still_live_where_the_role_allows() -> None:
    """If the pipeline starts deleting elsewhere, this test says the role must follow."""
    publish = (REPO_ROOT / "include/olist_risk/feature_store/publish.py").read_text()
    assert layout.RUN_BUILDS_PREFIX == "warehouse/runs"
    assert layout.FEATURE_STORE_PREFIX == "feature_store"
    assert layout.PUBLICATIONS_PREFIX == "feature_store/publications"
    assert '(f"{FEATURE_STORE_PREFIX}/snapshot_date=", f"{FEATURE_STORE_PREFIX}/_manifests/")' in (
        publish
    )
    callers = re.findall(r"delete_prefix\((.+)\)\s*$", publish, flags=re.M)
    assert callers, "publish.py no longer deletes: drop DeleteExpiredLakeBuilds"
    for argument in callers:
        assert argument.strip() in {"publication_prefix(publication)", "key", "prefix"}, argument
    # A layer build empties its layer's folder in the run's own build (on the worker and in
    # the ECS container): under warehouse/runs/, which both roles may delete.
    layer_run = (REPO_ROOT / "include/olist_risk/transform/layer_run.py").read_text()
    assert re.findall(r"delete_prefix\((.+)\)\s*$", layer_run, flags=re.M) == [
        'f"{run.build_prefix}/{run.layer}"'
    ]
    assert layout.run_build_prefix("r").startswith(layout.RUN_BUILDS_PREFIX + "/")
    for path in (REPO_ROOT / "include/olist_risk").rglob("*.py"):
        if path.name not in {"publish.py", "storage.py", "layer_run.py"}:
            text = path.read_text()
            for call in ("delete_prefix(", "delete_object", ".rm("):
                assert call not in text, f"{path} deletes ({call}): check the role"


# ---------------------------------------------------------------------------- the bucket


def test_bucket_is_private_encrypted_versioned_and_retained(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["SourceBucket"]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    kms, s3_managed = list(_branches(rule))
    assert kms["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert kms["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "If": ["CreateKey", {"GetAtt": "Key.Arn"}, {"Ref": "KmsKey"}]
    }
    assert s3_managed["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_bucket_policy_refuses_anything_but_tls(template: dict[str, Any]) -> None:
    statements = _statements(template, "bucket")
    both = [{"GetAtt": "SourceBucket.Arn"}, {"Sub": "${SourceBucket.Arn}/*"}]
    insecure = [
        s for s in statements if s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(insecure) == 1
    assert insecure[0]["Effect"] == "Deny" and insecure[0]["Action"] == "s3:*"
    assert insecure[0]["Resource"] == both and insecure[0]["Principal"] == "*"
    old_tls = [s for s in statements if "NumericLessThan" in s["Condition"]]
    assert old_tls[0]["Effect"] == "Deny" and old_tls[0]["Resource"] == both
    assert all(s["Effect"] == "Deny" for s in statements), "the bucket policy only denies"


# ------------------------------------------------------------------------------- the key


def test_key_rotates_is_retained_and_admits_only_account_logs_and_role(
    template: dict[str, Any],
) -> None:
    key = template["Resources"]["Key"]
    assert key["Condition"] == "CreateKey"
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in _statements(template, "key")}
    assert statements["AccountAdministersAndDelegatesToIam"]["Principal"] == {
        "AWS": {"Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    logs = statements["CloudWatchLogsForThisEnvironment"]
    assert logs["Principal"] == {"Service": {"Sub": "logs.${AWS::Region}.amazonaws.com"}}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Sub"]
    assert context.endswith(":log-group:airflow-${EnvironmentName}-*")
    role = statements["ExecutionRoleThroughS3AndSqs"]
    assert role["Principal"] == {"AWS": {"GetAtt": "ExecutionRole.Arn"}}
    assert set(role["Condition"]["StringEquals"]["kms:ViaService"][i]["Sub"] for i in (0, 1)) == {
        "s3.${AWS::Region}.amazonaws.com",
        "sqs.${AWS::Region}.amazonaws.com",
    }
    # DbtExecution=aws_ecs only: the dbt task role, through S3 alone
    dbt = statements["DbtTaskRoleThroughS3"]
    assert dbt["Principal"] == {"AWS": {"GetAtt": "DbtTaskRole.Arn"}}
    assert dbt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Sub": "s3.${AWS::Region}.amazonaws.com"}}
    }
    assert len(statements) == 4
    for statement in statements.values():
        # In a key policy "*" is the key itself.
        assert statement["Resource"] == "*"
        assert "kms:*" not in _as_list(statement["Action"])


def test_one_key_choice_reaches_bucket_environment_and_role(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    choice = {"If": ["CreateKey", {"GetAtt": "Key.Arn"}, {"Ref": "KmsKey"}]}
    assert resources["Environment"]["Properties"]["KmsKey"] == {
        "If": ["UseCmk", choice, {"Ref": "AWS::NoValue"}]
    }
    by_sid = {s.get("Sid"): s for s in _statements(template, "identity")}
    given = by_sid["CustomerKeyThroughS3AndSqs"]
    assert given["Resource"] == {"Ref": "KmsKey"}
    pattern = re.compile(template["Parameters"]["KmsKey"]["AllowedPattern"])
    assert pattern.fullmatch("none") and pattern.fullmatch("create")
    assert pattern.fullmatch("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef")
    assert not pattern.fullmatch("alias/aws/s3")


def test_managed_policies_are_listed(template: dict[str, Any]) -> None:
    attached = {
        arn
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for arn in _strings(resource["Properties"].get("ManagedPolicyArns", []))
    }
    assert attached == MANAGED_POLICIES.keys()
    execution = template["Resources"]["ExecutionRole"]["Properties"]
    assert "ManagedPolicyArns" not in execution, "the execution role is inline and exact"

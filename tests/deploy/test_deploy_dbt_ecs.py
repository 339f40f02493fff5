"""DbtExecution=aws_ecs in the template: created only when chosen, least privilege, and in step
with the code that uses it (include/olist_risk/transform/ecs_layer_build.py, layer_container.py).

The Conditions are evaluated offline (template_eval.py); `!If`s inside properties are resolved
here the same way, so "nothing is created or granted with local" is proven on what
CloudFormation would deploy.
"""

from __future__ import annotations

from typing import Any

import pytest

from deploy.keys import LAKE_PREFIX
from include.olist_risk.lake import layout
from tests.deploy.template_eval import (
    TEMPLATE,
    created_resources,
    evaluate,
    failed_rules,
    parameter_values,
)

ECS = {"DbtExecution": "aws_ecs", "DbtImageTag": "code-0123456789ab"}
DBT_RESOURCES = {
    "DbtLaunchPolicy": "AWS::IAM::Policy",
    "DbtRepository": "AWS::ECR::Repository",
    "DbtLogGroup": "AWS::Logs::LogGroup",
    "DbtCluster": "AWS::ECS::Cluster",
    "DbtTaskExecutionRole": "AWS::IAM::Role",
    "DbtTaskRole": "AWS::IAM::Role",
    "DbtTaskSecurityGroup": "AWS::EC2::SecurityGroup",
    "EndpointIngressFromDbtTasks": "AWS::EC2::SecurityGroupIngress",
    "DbtTaskDefinition": "AWS::ECS::TaskDefinition",
}
BUCKET = "arn:${AWS::Partition}:s3:::${BucketName}"
ECS_ARN = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
NO_VALUE = object()


def resolve(node: Any, **overrides: str) -> Any:
    """`node` as deployed with these parameters: each `!If` replaced by its branch."""
    params = parameter_values(**overrides)
    conditions = TEMPLATE["Conditions"]

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"If"}:
                name, yes, no = value["If"]
                return walk(yes if evaluate(conditions[name], params, conditions) else no)
            if value == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            items = {k: walk(v) for k, v in value.items()}
            return {k: v for k, v in items.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (walk(item) for item in value) if v is not NO_VALUE]
        return value

    return walk(node)


def statements(resource: str, **overrides: str) -> dict[str, dict[str, Any]]:
    props = resolve(TEMPLATE["Resources"][resource]["Properties"], **overrides)
    documents = (
        [props["PolicyDocument"]]
        if "PolicyDocument" in props
        else [p["PolicyDocument"] for p in props.get("Policies", [])]
    )
    return {s["Sid"]: s for document in documents for s in document["Statement"]}


def test_local_default_creates_and_grants_nothing_for_ecs() -> None:
    for params in ({}, {"Network": "private-nat"}, {"KmsKey": "create"}):
        created = created_resources(**params)
        assert not set(DBT_RESOURCES) & set(created), params
        assert not any(
            r["Type"].startswith(("AWS::ECS::", "AWS::ECR::", "AWS::Logs::"))
            for r in created.values()
        )
        role = statements("ExecutionRole", **params)
        actions = {a for s in role.values() for a in s["Action"] if isinstance(a, str)}
        actions |= {s["Action"] for s in role.values() if isinstance(s["Action"], str)}
        assert not any(a.startswith(("ecs:", "ecr:", "iam:")) for a in actions)
        options = resolve(TEMPLATE["Resources"]["Environment"]["Properties"], **params)[
            "AirflowConfigurationOptions"
        ]
        assert not any(key.startswith("olist.") for key in options), options
    key = resolve(TEMPLATE["Resources"]["Key"]["Properties"], KmsKey="create")
    assert "DbtTaskRoleThroughS3" not in {s["Sid"] for s in key["KeyPolicy"]["Statement"]}


def test_aws_ecs_creates_its_resources_and_opens_the_endpoints_to_the_task() -> None:
    created = created_resources(**ECS)
    assert {name: created[name]["Type"] for name in DBT_RESOURCES if name in created} == (
        DBT_RESOURCES
    )
    ingress = created["EndpointIngressFromDbtTasks"]["Properties"]
    assert (ingress["GroupId"], ingress["SourceSecurityGroupId"], ingress["FromPort"]) == (
        {"Ref": "EndpointSecurityGroup"},
        {"Ref": "DbtTaskSecurityGroup"},
        443,
    )
    group = created["DbtTaskSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert [
        (e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443)]
    # a NAT or your own network: no endpoints of the stack to open
    for params in ({"Network": "private-nat"},):
        others = created_resources(**ECS, **params)
        assert "DbtTaskDefinition" in others and "EndpointIngressFromDbtTasks" not in others


def test_execution_role_may_launch_exactly_the_dbt_task() -> None:
    policy = TEMPLATE["Resources"]["DbtLaunchPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "ExecutionRole"}]
    found = statements("DbtLaunchPolicy", **ECS)
    assert {sid: s["Action"] for sid, s in found.items()} == {
        "DbtRunTask": "ecs:RunTask",
        "DbtWatchTasks": ["ecs:DescribeTasks", "ecs:StopTask"],
        "DbtPassRoles": "iam:PassRole",
        "DbtReadTaskLogs": "logs:GetLogEvents",
    }
    run = found["DbtRunTask"]
    assert run["Resource"] == {"Sub": ECS_ARN + ":task-definition/${EnvironmentName}-dbt:*"}
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": {"GetAtt": "DbtCluster.Arn"}}}
    assert found["DbtWatchTasks"]["Resource"] == {"Sub": ECS_ARN + ":task/${DbtCluster}/*"}
    passed = found["DbtPassRoles"]
    assert passed["Resource"] == [
        {"GetAtt": "DbtTaskRole.Arn"},
        {"GetAtt": "DbtTaskExecutionRole.Arn"},
    ]
    assert passed["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert found["DbtReadTaskLogs"]["Resource"] == {"GetAtt": "DbtLogGroup.Arn"}
    resources = TEMPLATE["Resources"]
    # the names the ARNs above are built from
    assert resources["DbtTaskDefinition"]["Properties"]["Family"] == {
        "Sub": "${EnvironmentName}-dbt"
    }
    assert resources["DbtCluster"]["Properties"]["ClusterName"] == {"Sub": "${EnvironmentName}-dbt"}


def test_task_roles_are_ecs_tasks_of_this_account_with_exact_permissions() -> None:
    for name in ("DbtTaskRole", "DbtTaskExecutionRole"):
        props = TEMPLATE["Resources"][name]["Properties"]
        (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
        assert "ManagedPolicyArns" not in props
    pulls = statements("DbtTaskExecutionRole", **ECS)
    assert pulls["DbtPullImage"]["Resource"] == {"GetAtt": "DbtRepository.Arn"}
    assert pulls["DbtPullImage"]["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert pulls["DbtWriteTaskLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert pulls["DbtWriteTaskLogs"]["Resource"]["Sub"].endswith(
        ":log-group:airflow-${EnvironmentName}-dbt-ecs:*"
    )
    assert set(pulls) == {"DbtPullImage", "DbtRegistryToken", "DbtWriteTaskLogs"}
    task = statements("DbtTaskRole", **ECS)
    warehouse = f"{BUCKET}/{LAKE_PREFIX}/{layout.WAREHOUSE_PREFIX}/*"
    assert task["DbtListBucket"]["Resource"] == {"Sub": BUCKET}
    assert [r["Sub"] for r in task["DbtReadRawAndWarehouse"]["Resource"]] == [
        f"{BUCKET}/{LAKE_PREFIX}/{layout.RAW_PREFIX}/*",
        warehouse,
    ]
    assert task["DbtReadRawAndWarehouse"]["Action"] == "s3:GetObject"
    assert task["DbtWriteWarehouse"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert task["DbtWriteWarehouse"]["Resource"] == {"Sub": warehouse}
    runs = f"{BUCKET}/{LAKE_PREFIX}/{layout.RUN_BUILDS_PREFIX}/*"
    assert task["DbtDeleteRunBuilds"]["Action"] == "s3:DeleteObject"
    assert task["DbtDeleteRunBuilds"]["Resource"] == {"Sub": runs}
    assert set(task) == {
        "DbtListBucket",
        "DbtReadRawAndWarehouse",
        "DbtWriteWarehouse",
        "DbtDeleteRunBuilds",
    }
    with_key = statements("DbtTaskRole", **ECS, KmsKey="arn:aws:kms:eu-west-1:123456789012:key/k")
    assert with_key["DbtCustomerKeyThroughS3"]["Resource"] == {"Ref": "KmsKey"}


def test_everything_the_container_writes_is_under_the_warehouse() -> None:
    """The task role writes only lake/warehouse/: the keys layer_run.py writes must be there."""
    prefix = layout.WAREHOUSE_PREFIX + "/"
    run_prefix = layout.run_build_prefix("manual__2024-01-01")
    batch = layout.batch_build_prefix("b1", "code-x", "manual__2024-01-01")
    for key in (
        layout.dbt_results_key(run_prefix, "gold"),
        layout.batch_build_complete_key(batch),
        layout.batch_build_pointer_key("b1", "code-x"),
        batch,
        run_prefix,
    ):
        assert key.startswith(prefix), key


def test_task_definition_matches_what_the_operator_and_container_expect() -> None:
    from include.olist_risk.transform.ecs_layer_build import EcsSettings

    props = resolve(TEMPLATE["Resources"]["DbtTaskDefinition"]["Properties"], **ECS)
    assert props["RequiresCompatibilities"] == ["FARGATE"] and props["NetworkMode"] == "awsvpc"
    assert (props["Cpu"], props["Memory"]) == ({"Ref": "DbtTaskCpu"}, {"Ref": "DbtTaskMemory"})
    assert props["TaskRoleArn"] == {"GetAtt": "DbtTaskRole.Arn"}
    assert props["ExecutionRoleArn"] == {"GetAtt": "DbtTaskExecutionRole.Arn"}
    (container,) = props["ContainerDefinitions"]
    defaults = EcsSettings(cluster="c", task_definition="t", subnets=[], security_groups=[])
    assert container["Name"] == defaults.container
    assert container["Image"] == {"Sub": "${DbtRepository.RepositoryUri}:${DbtImageTag}"}
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["OLIST_LAKE_URI"] == {"Sub": f"s3://${{BucketName}}/{LAKE_PREFIX}"}
    logs = container["LogConfiguration"]
    assert logs["LogDriver"] == "awslogs"
    assert logs["Options"]["awslogs-group"] == {"Ref": "DbtLogGroup"}
    assert logs["Options"]["awslogs-stream-prefix"] == defaults.log_stream_prefix
    repo = TEMPLATE["Resources"]["DbtRepository"]["Properties"]
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}


def test_environment_options_are_the_settings_the_code_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from include.olist_risk.transform.ecs_layer_build import ecs_settings
    from include.olist_risk.transform.layer_build import dbt_execution

    options = resolve(TEMPLATE["Resources"]["Environment"]["Properties"], **ECS)[
        "AirflowConfigurationOptions"
    ]
    olist = {k: v for k, v in options.items() if k.startswith("olist.")}
    assert olist["olist.dbt_execution"] == "aws_ecs"
    assert olist["olist.ecs_subnets"] == {
        "Join": [",", [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]]
    }
    # MWAA exports option `olist.x` as AIRFLOW__OLIST__X: give each a value, read them back
    for name in list(__import__("os").environ):
        if name.startswith(("OLIST_ECS_", "OLIST_DBT_EXECUTION", "AIRFLOW__OLIST__")):
            monkeypatch.delenv(name)
    for key in olist:
        monkeypatch.setenv(f"AIRFLOW__OLIST__{key.split('.', 1)[1].upper()}", f"<{key}>")
    monkeypatch.setenv("AIRFLOW__OLIST__DBT_EXECUTION", "aws_ecs")
    assert dbt_execution() == "aws_ecs"
    settings = ecs_settings()
    assert settings.cluster == "<olist.ecs_cluster>"
    assert settings.task_definition == "<olist.ecs_task_definition>"
    assert settings.subnets == ["<olist.ecs_subnets>"]
    assert settings.security_groups == ["<olist.ecs_security_groups>"]
    assert settings.log_group == "<olist.ecs_log_group>"
    assert settings.region == "<olist.ecs_region>"
    assert set(olist) == {
        "olist.dbt_execution",
        "olist.ecs_cluster",
        "olist.ecs_task_definition",
        "olist.ecs_subnets",
        "olist.ecs_security_groups",
        "olist.ecs_log_group",
        "olist.ecs_region",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"DbtExecution": "aws_ecs"}, "needs DbtImageTag"),
        ({**ECS, "DbtTaskCpu": "1024", "DbtTaskMemory": "16384"}, "DbtTaskCpu=1024"),
        ({**ECS, "DbtTaskCpu": "4096", "DbtTaskMemory": "4096"}, "DbtTaskCpu=4096"),
        ({**ECS, "DbtTaskCpu": "8192", "DbtTaskMemory": "8192"}, "DbtTaskCpu=8192"),
    ],
)
def test_rules_refuse_an_untagged_image_and_sizes_fargate_has_not(
    params: dict[str, str], message: str
) -> None:
    assert any(message in failure for failure in failed_rules(**params)), failed_rules(**params)


def test_rules_accept_every_fargate_pair_offered() -> None:
    fargate = {  # vCPU units -> MiB Fargate accepts (Linux), among AllowedValues
        1024: range(2048, 8193, 1024),
        2048: range(4096, 16385, 1024),
        4096: range(8192, 30721, 1024),
        8192: range(16384, 61441, 4096),
    }
    cpus = TEMPLATE["Parameters"]["DbtTaskCpu"]["AllowedValues"]
    memories = TEMPLATE["Parameters"]["DbtTaskMemory"]["AllowedValues"]
    for cpu in cpus:
        for memory in memories:
            refused = any(
                "Fargate memory" in f
                for f in failed_rules(**ECS, DbtTaskCpu=str(cpu), DbtTaskMemory=str(memory))
            )
            assert refused == (memory not in fargate[cpu]), (cpu, memory)
    assert failed_rules(**ECS) == []
    assert failed_rules() == []

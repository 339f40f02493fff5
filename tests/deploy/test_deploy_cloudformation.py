"""The CloudFormation template: lint-clean, private by default, rules that reject bad input.

The Rules and Conditions are evaluated offline (tests/deploy/template_eval.py) for the
parameter combinations that matter, so "micro with two workers is refused" and "the default
creates no route to the internet" are proven here, not first discovered in a failed stack.
The least-privilege rules on the policies are in test_deploy_template_rules.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.stack import MAX_TEMPLATE_BODY, TEMPLATE, load_template, template_body
from tests.deploy.conftest import REPO_ROOT
from tests.deploy.template_eval import created_resources, failed_rules

# The interface endpoints an MWAA environment needs without internet access: the MWAA user
# guide, "Create the VPC network", option three (cfn-vpc-private.yaml in
# awsdocs/amazon-mwaa-user-guide doc_source/vpc-create.md), plus the S3 gateway endpoint.
MWAA_INTERFACE_ENDPOINTS = {
    "sqs",
    "logs",
    "monitoring",
    "kms",
    "ecr.api",
    "ecr.dkr",
    "airflow.api",
    "airflow.env",
    "airflow.ops",
}
EXISTING = {
    "Network": "existing",
    "ExistingVpcId": "vpc-0123456789abcdef0",
    "ExistingSubnet1Id": "subnet-0123456789abcdef1",
    "ExistingSubnet2Id": "subnet-0123456789abcdef2",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


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


def test_template_fits_a_template_body(tmp_path: Path) -> None:
    """deploy.py sends the template without its comment lines: that must fit, and parse the
    same (a `#` line inside a block scalar would be content, and this would catch it)."""
    body = template_body()
    assert len(body.encode()) <= MAX_TEMPLATE_BODY
    stripped = tmp_path / "mwaa.yaml"
    stripped.write_text(body)
    assert load_template(stripped) == load_template()


def test_airflow_version_matches_local_pin(template: dict[str, Any]) -> None:
    local = (REPO_ROOT / "requirements/local.in").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)", local, flags=re.M)
    assert pinned, "requirements/local.in must pin apache-airflow"
    props = template["Resources"]["Environment"]["Properties"]
    assert props["AirflowVersion"] == pinned[1]
    mwaa_reqs = (REPO_ROOT / "deploy/mwaa/requirements.txt").read_text()
    assert f"\napache-airflow=={pinned[1]}\n" in mwaa_reqs


def test_environment_pins_objects_by_version_and_logs(template: dict[str, Any]) -> None:
    props = template["Resources"]["Environment"]["Properties"]
    for name in ("Plugins", "Requirements", "StartupScript"):
        assert props[f"{name}S3ObjectVersion"] == {"Ref": f"{name}S3ObjectVersion"}
    assert props["StartupScriptS3Path"] == "startup.sh"
    assert props["DagS3Path"] == "dags"
    logs = props["LoggingConfiguration"]
    assert len(logs) == 5 and all(module["Enabled"] for module in logs.values())


# ------------------------------------------------------------------------ private default


def test_defaults_are_private(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["WebserverAccessMode"]["Default"] == "PRIVATE_ONLY"
    assert "PUBLIC_ONLY" in params["WebserverAccessMode"]["AllowedValues"]
    assert params["Network"]["Default"] == "private-endpoints"
    assert failed_rules() == [], "the defaults must deploy"


def test_default_network_has_every_endpoint_and_no_internet_route() -> None:
    created = created_resources()
    interface = {
        r["Properties"]["ServiceName"]["Sub"].removeprefix("com.amazonaws.${AWS::Region}.")
        for r in created.values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
        and r["Properties"]["VpcEndpointType"] == "Interface"
    }
    assert interface == MWAA_INTERFACE_ENDPOINTS
    for resource in created.values():
        if resource["Type"] == "AWS::EC2::VPCEndpoint":
            props = resource["Properties"]
            if props["VpcEndpointType"] == "Interface":
                assert props["PrivateDnsEnabled"] is True
                assert props["SubnetIds"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
            else:
                assert props["ServiceName"] == {"Sub": "com.amazonaws.${AWS::Region}.s3"}
                assert props["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    types = {r["Type"] for r in created.values()}
    assert not types & {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::EIP",
    }


def test_private_subnets_are_in_two_availability_zones(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    zones = [resources[f"PrivateSubnet{n}"]["Properties"]["AvailabilityZone"] for n in (1, 2)]
    assert zones == [{"Select": [0, {"GetAZs": ""}]}, {"Select": [1, {"GetAZs": ""}]}]
    for n in (1, 2):
        assert resources[f"PrivateSubnet{n}"]["Properties"]["MapPublicIpOnLaunch"] is False


def test_nat_network_routes_private_subnets_out_without_interface_endpoints() -> None:
    created = created_resources(Network="private-nat")
    routes = [r["Properties"] for r in created.values() if r["Type"] == "AWS::EC2::Route"]
    private = [r for r in routes if r["RouteTableId"] == {"Ref": "PrivateRouteTable"}]
    assert private == [
        {
            "RouteTableId": {"Ref": "PrivateRouteTable"},
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": {"Ref": "NatGateway"},
        }
    ]
    endpoints = [r for r in created.values() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    assert [e["Properties"]["VpcEndpointType"] for e in endpoints] == ["Gateway"]


def test_existing_network_creates_no_network(template: dict[str, Any]) -> None:
    created = created_resources(**EXISTING)
    assert not any(
        r["Type"].startswith("AWS::EC2::")
        and r["Type"] != "AWS::EC2::SecurityGroup"
        and r["Type"] != "AWS::EC2::SecurityGroupIngress"
        for r in created.values()
    )
    subnets = template["Resources"]["Environment"]["Properties"]["NetworkConfiguration"]
    assert subnets["SubnetIds"]["If"] == [
        "CreateVpc",
        [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
        [{"Ref": "ExistingSubnet1Id"}, {"Ref": "ExistingSubnet2Id"}],
    ]


def test_private_ui_is_reachable_only_from_the_vpc_unless_a_cidr_is_given() -> None:
    default = created_resources()
    ingress = [
        r["Properties"] for r in default.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert ingress == [
        {
            "Description": "MWAA requires a self-referencing rule",
            "GroupId": {"Ref": "EnvironmentSecurityGroup"},
            "SourceSecurityGroupId": {"Ref": "EnvironmentSecurityGroup"},
            "IpProtocol": "-1",
        }
    ]
    vpn = created_resources(WebserverAccessCidr="10.100.0.0/22")
    https = [
        r["Properties"]
        for r in vpn.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and "CidrIp" in r["Properties"]
    ]
    assert [(h["FromPort"], h["ToPort"], h["IpProtocol"]) for h in https] == [(443, 443, "tcp")]


# ---------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"EnvironmentClass": "mw1.micro", "MaxWorkers": "2"}, "mw1.micro runs exactly one"),
        ({"EnvironmentClass": "mw1.micro", "MaxWorkers": "1", "MinWorkers": "2"}, "mw1.micro"),
        ({"MinWorkers": "3", "MaxWorkers": "2"}, "MinWorkers must not exceed MaxWorkers"),
        ({"Network": "existing"}, "Network=existing needs ExistingVpcId"),
        ({**EXISTING, "ExistingSubnet2Id": EXISTING["ExistingSubnet1Id"]}, "two different"),
        ({"ExistingVpcId": "vpc-0123456789abcdef0"}, "used only with Network=existing"),
        ({"CreateEnvironment": "true"}, "PluginsS3ObjectVersion is required"),
    ],
)
def test_rules_reject_invalid_combinations(params: dict[str, str], message: str) -> None:
    assert any(message in failure for failure in failed_rules(**params)), failed_rules(**params)


@pytest.mark.parametrize(
    "params",
    [
        {"EnvironmentClass": "mw1.micro", "MaxWorkers": "1"},
        EXISTING,
        {"Network": "private-nat", "WebserverAccessMode": "PUBLIC_ONLY", "KmsKey": "create"},
        {
            "CreateEnvironment": "true",
            "PluginsS3ObjectVersion": "v1",
            "RequirementsS3ObjectVersion": "v2",
            "StartupScriptS3ObjectVersion": "v3",
        },
    ],
)
def test_rules_accept_valid_combinations(params: dict[str, str]) -> None:
    assert failed_rules(**params) == []


def test_worker_rule_is_exactly_min_at_most_max(template: dict[str, Any]) -> None:
    allowed = template["Parameters"]["MaxWorkers"]["AllowedValues"]
    assert allowed == template["Parameters"]["MinWorkers"]["AllowedValues"]
    for low in allowed:
        for high in allowed:
            refused = any(
                "MinWorkers must not exceed" in f
                for f in failed_rules(MinWorkers=str(low), MaxWorkers=str(high))
            )
            assert refused == (low > high), (low, high)


def test_bucket_name_is_free_of_any_prefix(template: dict[str, Any]) -> None:
    pattern = re.compile(template["Parameters"]["BucketName"]["AllowedPattern"])
    for good in ("olist-lake-123", "my.data.lake", "airflow-olist"):
        assert pattern.fullmatch(good), good
    for bad in ("ab", "Olist_Lake", "-lake", "lake-", "x" * 64):
        assert not pattern.fullmatch(bad), bad


def test_readme_cost_table_counts_what_the_template_creates() -> None:
    """The README prices the default network by its endpoint count: keep them in step."""
    readme = (REPO_ROOT / "deploy/README.md").read_text()
    assert f"{len(MWAA_INTERFACE_ENDPOINTS)} interface endpoints" in readme
    nat = created_resources(Network="private-nat")
    assert sum(r["Type"] == "AWS::EC2::NatGateway" for r in nat.values()) == 1
    assert "1 NAT gateway" in readme


def test_ssm_ui_access_is_an_outbound_only_instance_with_its_endpoints_in_one_az() -> None:
    created = created_resources(UiAccess="ssm")
    ssm = {
        r["Properties"]["ServiceName"]["Sub"].removeprefix("com.amazonaws.${AWS::Region}."): r[
            "Properties"
        ]["SubnetIds"]
        for r in created.values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
        and r["Properties"]["ServiceName"]["Sub"].split(".")[-1]
        in {"ssm", "ssmmessages", "ec2messages"}
    }
    assert ssm == {
        name: [{"Ref": "PrivateSubnet1"}] for name in ("ssm", "ssmmessages", "ec2messages")
    }
    group = created["SsmInstanceSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert [
        (e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443)]
    template = created["SsmInstanceLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert template["MetadataOptions"]["HttpTokens"] == "required"
    assert template["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    instance = created["SsmInstance"]["Properties"]
    assert instance["SubnetId"] == {
        "If": ["CreateVpc", {"Ref": "PrivateSubnet1"}, {"Ref": "ExistingSubnet1Id"}]
    }
    ui = created["WebserverIngressFromSsmInstance"]["Properties"]
    assert (ui["GroupId"], ui["SourceSecurityGroupId"], ui["FromPort"]) == (
        {"Ref": "EnvironmentSecurityGroup"},
        {"Ref": "SsmInstanceSecurityGroup"},
        443,
    )
    # With a NAT or an existing network the agent goes out its own way: no SSM endpoints.
    for params in ({"Network": "private-nat"}, EXISTING):
        others = created_resources(UiAccess="ssm", **params)
        assert "SsmInstance" in others and "SsmEndpoint" not in others
    assert "SsmInstance" not in created_resources()

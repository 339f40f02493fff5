"""The CloudFormation stack (deploy/cloudformation/mwaa.yaml): its parameters, create, update, wait.

With ``--stack NAME`` a deploy goes through CloudFormation, so the stack's version
parameters never go stale:

1. if the stack does not exist, create it with ``CreateEnvironment=false`` (bucket, role,
   network, key: the environment needs uploaded object versions first) and wait;
2. upload the bundle (deploy/upload.py);
3. update the stack with ``CreateEnvironment=true`` and the three object versions, and wait.
   Parameters this command does not set keep their previous values.

Waiting is a plain poll with an injectable ``sleep`` so tests run it against botocore's
Stubber without waiting; creating an environment takes 20-40 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from deploy.errors import DeployError
from deploy.keys import PLUGINS_KEY, REQUIREMENTS_KEY, STARTUP_KEY

TEMPLATE = Path(__file__).resolve().parent / "cloudformation" / "mwaa.yaml"
# TemplateBody is limited to 51,200 bytes; beyond it the template would have to be uploaded.
MAX_TEMPLATE_BODY = 51_200
VERSION_PARAMETERS = {
    PLUGINS_KEY: "PluginsS3ObjectVersion",
    REQUIREMENTS_KEY: "RequirementsS3ObjectVersion",
    STARTUP_KEY: "StartupScriptS3ObjectVersion",
}
# The role has no fixed name, so CAPABILITY_IAM (not _NAMED_IAM) is enough.
CAPABILITIES = ["CAPABILITY_IAM"]
_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If...) as {"Tag": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass


def template_body(path: Path = TEMPLATE) -> str:
    """The template as sent: without its comment-only lines, which CloudFormation's limit
    counts (the template documents itself; tests prove the stripped text parses the same)."""
    lines = path.read_text().splitlines(keepends=True)
    body = "".join(line for line in lines if not line.lstrip().startswith("#"))
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        raise DeployError(f"{path} is over {MAX_TEMPLATE_BODY} bytes: CloudFormation refuses it")
    return body


def base_parameters(
    bucket: str, environment: str, overrides: Mapping[str, str] = {}
) -> dict[str, str]:
    """What this command sets on every call: the bucket, the environment name, --parameter."""
    return {"BucketName": bucket, "EnvironmentName": environment, **overrides}


def environment_parameters(versions: Mapping[str, str]) -> dict[str, str]:
    """The parameters that create or update the environment with these object versions."""
    params = {"CreateEnvironment": "true"}
    params.update({name: versions[key] for key, name in VERSION_PARAMETERS.items()})
    return params


def parameter_list(values: Mapping[str, str], previous: Iterable[str] = ()) -> list[dict]:
    """CloudFormation's Parameters: the given values, and UsePreviousValue for the others."""
    listed = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]
    listed += [
        {"ParameterKey": k, "UsePreviousValue": True} for k in sorted(set(previous) - set(values))
    ]
    return listed


# Set by the command itself (--bucket, --environment, the upload): never by --parameter, or
# the stack and the upload could disagree about where the files are.
RESERVED_PARAMETERS = frozenset(
    {"BucketName", "EnvironmentName", "CreateEnvironment", *VERSION_PARAMETERS.values()}
)
# Changing one of these on a live stack replaces the resource it names: a new bucket (the
# lake stays behind in the old one) or a new environment (run history lost).
IDENTITY_PARAMETERS = ("BucketName", "EnvironmentName")


def parse_overrides(pairs: Iterable[str], declared: Iterable[str]) -> dict[str, str]:
    """--parameter KEY=VALUE pairs, checked against the template's parameters."""
    known = set(declared) - RESERVED_PARAMETERS
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if key in RESERVED_PARAMETERS:
            raise DeployError(f"--parameter {key}: set by the command (--bucket, --environment)")
        if not sep or key not in known:
            raise DeployError(
                f"--parameter {pair!r}: expected KEY=VALUE, KEY one of {sorted(known)}"
            )
        overrides[key] = value
    return overrides


def describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise


def wait(
    cfn: Any,
    stack: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 2 * 3600,
) -> str:
    """Poll until the stack leaves *_IN_PROGRESS; raise unless it ended CREATE/UPDATE_COMPLETE."""
    waited = 0.0
    while True:
        found = describe(cfn, stack)
        if found is None:
            raise DeployError(f"stack {stack} disappeared while waiting (creation rolled back?)")
        status = found["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            if status not in _DONE:
                reason = found.get("StackStatusReason", "see the stack's events")
                raise DeployError(f"stack {stack} ended {status}: {reason}")
            return status
        if waited >= timeout_seconds:
            raise DeployError(f"stack {stack} still {status} after {timeout_seconds:.0f} s")
        print(f"stack {stack}: {status}")
        sleep(poll_seconds)
        waited += poll_seconds


def ensure_stack(
    cfn: Any, stack: str, values: Mapping[str, str], body: str, **wait_args: Any
) -> bool:
    """Create the stack without an environment if it is missing; True when it was created."""
    found = describe(cfn, stack)
    if found is not None:
        status = found["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(f"stack {stack} is {status}; wait for it and re-run")
        if status == "ROLLBACK_COMPLETE":
            # A failed creation cannot be updated, only deleted (the bucket is retained).
            raise DeployError(f"stack {stack} failed to create ({status}): delete it and re-run")
        current = {p["ParameterKey"]: p.get("ParameterValue") for p in found.get("Parameters", [])}
        for name in IDENTITY_PARAMETERS:
            if current.get(name) not in (None, values[name]):
                raise DeployError(
                    f"stack {stack} has {name}={current[name]}, not {values[name]}: changing "
                    "it would replace the bucket or the environment"
                )
        return False
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body,
        Parameters=parameter_list({**values, "CreateEnvironment": "false"}),
        Capabilities=CAPABILITIES,
    )
    wait(cfn, stack, **wait_args)
    return True


def update_stack(
    cfn: Any,
    stack: str,
    values: Mapping[str, str],
    body: str,
    declared: Iterable[str],
    **wait_args: Any,
) -> bool:
    """Update the stack to this template and these values; False when nothing changed."""
    from botocore.exceptions import ClientError

    found = describe(cfn, stack)
    if found is None:
        raise DeployError(f"stack {stack} does not exist")
    previous = {p["ParameterKey"] for p in found.get("Parameters", [])} & set(declared)
    try:
        cfn.update_stack(
            StackName=stack,
            TemplateBody=body,
            Parameters=parameter_list(values, previous),
            Capabilities=CAPABILITIES,
        )
    except ClientError as exc:
        if "No updates are to be performed" in exc.response.get("Error", {}).get("Message", ""):
            return False
        raise
    wait(cfn, stack, **wait_args)
    return True

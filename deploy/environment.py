"""Pointing a running MWAA environment at newly uploaded versions (without CloudFormation).

An MWAA update restarts every component and takes 20-30 minutes, so it is only requested
when plugins.zip, requirements.txt or startup.sh got a new version; dags/ changes are picked
up without one.
"""

from __future__ import annotations

from typing import Any

from deploy.errors import DeployError
from deploy.keys import DAGS_PREFIX, PLUGINS_KEY, REQUIREMENTS_KEY, STARTUP_KEY


def update_request(environment: str, versions: dict[str, str]) -> dict[str, str]:
    """The update_environment arguments pinning the three versioned objects."""
    return {
        "Name": environment,
        "DagS3Path": DAGS_PREFIX,
        "PluginsS3Path": PLUGINS_KEY,
        "PluginsS3ObjectVersion": versions[PLUGINS_KEY],
        "RequirementsS3Path": REQUIREMENTS_KEY,
        "RequirementsS3ObjectVersion": versions[REQUIREMENTS_KEY],
        "StartupScriptS3Path": STARTUP_KEY,
        "StartupScriptS3ObjectVersion": versions[STARTUP_KEY],
    }


def apply_update(mwaa: Any, request: dict[str, str]) -> str | None:
    """Point the environment at the new versions; None when it already runs them.

    MWAA rejects an update while another is in progress, so check the status first and say
    so plainly instead of surfacing a ValidationException.
    """
    env = mwaa.get_environment(Name=request["Name"])["Environment"]
    status = env.get("Status")
    if status not in {"AVAILABLE", "UPDATE_FAILED"}:
        raise DeployError(
            f"environment {request['Name']} is {status}; wait until it is AVAILABLE and re-run"
        )
    if all(env.get(key) == value for key, value in request.items() if key != "Name"):
        return None
    return mwaa.update_environment(**request)["Arn"]

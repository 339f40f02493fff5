"""The Dockerfile's `dbt-ecs` target: the image each layer's ECS Fargate task runs.

Docker is not available where the tests run, so the file's text is checked: the stages and
their order, that the image holds the tools virtualenv from requirements/tools.txt, the
runtime package and the dbt project with its parsed state, that it runs the container entry
point the operator names, as a non-root user, with telemetry off and MWAA's boto3.
"""

from __future__ import annotations

import re

import pytest

from include.olist_risk.transform.ecs_layer_build import CONTAINER_COMMAND
from tests.deploy.conftest import REPO_ROOT
from tests.isolation import shared_file

DOCKERFILE = REPO_ROOT / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "FROM":
            parts = rest.split()
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"<{rest}>"
            stages[current] = [(word, rest)]
        else:
            stages[current].append((word, rest))
    return stages


@pytest.fixture(scope="module")
def stages() -> dict[str, list[tuple[str, str]]]:
    return _stages()


def test_astro_runtime_is_first_and_the_default_target(stages) -> None:
    names = list(stages)
    assert names[0] == "airflow"
    assert stages["airflow"][0][1].startswith("astrocrpublic.azurecr.io/runtime:3.3")
    assert "dbt-ecs" in names
    # the last stage (what `docker build .` and the Astro CLI build) is the Airflow image
    assert stages[names[-1]] == [("FROM", "airflow")]


def _values(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for w, rest in stage if w == word]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in _values(stage, "ENV"):
        for name, value in re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", rest):
            env[name] = value.strip('"')
    return env


def test_dbt_ecs_installs_the_tools_venv_and_copies_the_package_and_dbt_project(stages) -> None:
    stage = stages["dbt-ecs"]
    base = stage[0][1].split()[0]
    assert re.fullmatch(r"python:3\.12-slim(-\w+)?", base), "MWAA 3.3.1 runs Python 3.12"
    copies = _values(stage, "COPY")
    assert "requirements/tools.txt /tmp/tools.txt" in copies
    runs = " && ".join(_values(stage, "RUN"))
    env = _env(stage)
    venv = env["OLIST_DBT_EXECUTABLE"].removesuffix("/bin/dbt")
    assert f"python -m venv {venv}" in runs
    assert f"{venv}/bin/pip install --no-cache-dir -r /tmp/tools.txt" in runs
    assert env["OLIST_TOOL_PYTHON"] == f"{venv}/bin/python"
    # the runtime package and the dbt project, where PYTHONPATH and the settings look
    workdir = _values(stage, "WORKDIR")[-1]
    assert env["PYTHONPATH"] == workdir
    assert "include/__init__.py include/__init__.py" in copies
    assert "include/olist_risk include/olist_risk" in copies
    assert "dbt_project dbt_project" in copies
    assert env["OLIST_DBT_PROJECT_DIR"] == f"{workdir}/dbt_project"
    # the parsed state is made in the image, in the environment every run gets
    assert 'python -m include.olist_risk.transform.dbt_invocation "$OLIST_DBT_EXECUTABLE"' in runs
    assert "partial_parse.msgpack" in runs
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert "dbt_project/target" in ignored and "dbt_project/logs" in ignored


def test_dbt_ecs_runs_the_operators_entry_point_as_a_user_without_telemetry(stages) -> None:
    stage = stages["dbt-ecs"]
    env = _env(stage)
    assert env["SODA_CORE_TELEMETRY_ENABLED"] == "false"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    (user,) = _values(stage, "USER")
    assert user not in {"root", "0"}
    module = CONTAINER_COMMAND[-1]
    assert (REPO_ROOT / (module.replace(".", "/") + ".py")).exists()
    (cmd,) = _values(stage, "CMD")
    assert module in cmd
    # no Airflow in this image
    assert "apache-airflow" not in " ".join(_values(stage, "RUN"))


def test_dbt_ecs_boto3_is_the_version_mwaa_pins(stages) -> None:
    runs = " ".join(_values(stages["dbt-ecs"], "RUN"))
    (pinned,) = re.findall(r"boto3==(\S+)", runs)
    constraints = shared_file("mwaa/constraints-3.3.1.txt").read_text()
    assert f"\nboto3=={pinned}\n" in constraints

"""The Astro image, the tools venv and the local venv run the same versions."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.isolation import PROJECT_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: '{line}' is not pinned with =="
        found[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return found


LOCAL = pins(PROJECT_ROOT / "requirements" / "local.txt")


@pytest.mark.parametrize("file_name", ["requirements.txt", "requirements/tools.txt"])
def test_image_requirements_are_pinned_to_the_local_versions(file_name: str) -> None:
    image = pins(PROJECT_ROOT / file_name)
    assert image, f"{file_name} pins nothing"
    for name, pinned in image.items():
        assert LOCAL.get(name) == pinned, f"{file_name}: {name}=={pinned}, local {LOCAL.get(name)}"
        assert version(name) == pinned, f"{name} installed {version(name)}, pinned {pinned}"


def test_dockerfile_runtime_runs_the_local_airflow_minor_version() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    runtime = re.search(
        r"^FROM astrocrpublic\.azurecr\.io/runtime:(\d+)\.(\d+)-\d+", dockerfile, re.M
    )
    assert runtime, "Dockerfile must start from an Astro Runtime image"
    airflow = LOCAL["apache-airflow"]
    assert airflow == "3.3.1" == version("apache-airflow")
    assert airflow.split(".")[:2] == list(runtime.groups())


def test_dockerfile_builds_the_tools_venv_from_the_pinned_file() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "requirements/tools.txt" in dockerfile
    assert "OLIST_DBT_EXECUTABLE=" in dockerfile and "OLIST_TOOL_PYTHON=" in dockerfile

"""Fixtures for the MWAA deploy tests: a fake project, a dummy wheelhouse, a moto S3 server.

The deploy tests never download wheels: the wheelhouse is a prepared dummy directory, the
S3 API is a local moto server and the MWAA API is botocore's Stubber (moto has no MWAA).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_wheel(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal but valid pure-Python wheel, so pip can really install it offline."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
    )
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: olist-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    records = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        records.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    records.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(records) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def fake_project(tmp_path: Path) -> Path:
    """A small project tree with the real layout, independent of the files others are editing."""
    root = tmp_path / "project"
    files = {
        "dags/feature_store.py": "# a DAG\n",
        "dags/__pycache__/feature_store.cpython-311.pyc": "junk",
        "include/__init__.py": "",
        "include/olist_risk/__init__.py": "",
        "include/olist_risk/config.py": "LAKE = 'x'\n",
        "plugins/olist_views.py": "# a plugin\n",
        "dbt_project/dbt_project.yml": "name: olist\n",
        "dbt_project/models/gold/fct.sql": "select 1 as x\n",
        "dbt_project/target/manifest.json": json.dumps({"nodes": {}}),
        "dbt_project/target/run_results.json": "{}",
        "dbt_project/logs/dbt.log": "log",
        "dbt_project/.user.yml": "id: x",
        "requirements/tools.txt": "dbt-core==1.11.16\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    manifest = root / "dbt_project/target/manifest.json"
    later = time.time() + 5
    os.utime(manifest, (later, later))
    return root


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """A prepared wheelhouse (what --wheelhouse DIR points to) holding dummy wheels."""
    root = tmp_path / "wheelhouse"
    make_wheel(root / "tools", "olist_fake_tool", "0.1", {"olist_fake_tool.py": "X = 1\n"})
    make_wheel(root / "airflow", "olist_fake_cosmos", "0.1", {"olist_fake_cosmos.py": ""})
    return root


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials: nothing here may reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3(moto_endpoint: str, aws_env: None) -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)


@pytest.fixture
def versioned_bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    name = "airflow-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name

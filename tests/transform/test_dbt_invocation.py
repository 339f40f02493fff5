"""The dbt invocation the orchestration runs (a subprocess; the module never imports dbt)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.transform import dbt_invocation
from include.olist_risk.transform.dbt_invocation import DbtError, DbtInvocation, run_dbt


def test_run_values_reach_dbt_as_environment_not_vars(tmp_path: Path) -> None:
    invocation = DbtInvocation(
        lake_root="/data/lake/", raw_batch_id="20240101", target_path=tmp_path
    )
    env = invocation.env(base={})
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert env["OLIST_DBT_DUCKDB_PATH"] == ":memory:"
    # the lake's layout comes from lake/layout.py, so dbt holds no copy of it
    assert env["OLIST_RAW_TABLE_LOCATION"] == (
        "/data/lake/raw/{table}/batch={batch}/{table}.parquet"
    )
    assert env["OLIST_RAW_BATCH_ID"] == "20240101"
    assert env["OLIST_BUILD_ROOT"] == "/data/lake/warehouse"
    assert env["OLIST_SNAPSHOT_DATE"] == ""
    command = invocation.command(["build", "--select", "gold"])
    assert command[0] == str(Path(sys.executable).parent / "dbt")
    assert command[command.index("--project-dir") + 1] == str(dbt_invocation.DBT_PROJECT_DIR)
    # --vars that change per run would make dbt re-parse the whole project every run
    assert "--vars" not in command
    assert command[command.index("--target-path") + 1] == str(tmp_path)


def test_two_runs_differ_only_in_their_run_values() -> None:
    def env(**run: str) -> dict[str, str]:
        return DbtInvocation(lake_root="s3://b/lake", **run).env(base={})

    first = env(raw_batch_id="a", build_root="s3://b/runs/1", snapshot_date="2018-09-01")
    second = env(raw_batch_id="b", build_root="s3://b/runs/2")
    changed = {name for name in first.keys() | second.keys() if first.get(name) != second.get(name)}
    assert changed == {"OLIST_RAW_BATCH_ID", "OLIST_BUILD_ROOT", "OLIST_SNAPSHOT_DATE"}


def test_s3_invocation_passes_the_endpoint_and_credentials() -> None:
    invocation = DbtInvocation(
        lake_root="s3://bucket/lake",
        raw_batch_id="b",
        build_root="s3://bucket/wh",
        snapshot_date="2018-09-01",
        s3=S3Credentials("key", "secret", endpoint_url="http://127.0.0.1:5000"),
        extension_dir="/ext",
    )
    env = invocation.env(base={})
    assert env["OLIST_S3_ENDPOINT"] == "127.0.0.1:5000"
    assert env["OLIST_S3_USE_SSL"] == "false"
    assert env["OLIST_S3_URL_STYLE"] == "path"
    assert env["AWS_ACCESS_KEY_ID"] == "key"
    assert env["OLIST_DUCKDB_EXTENSION_DIR"] == "/ext"
    assert env["OLIST_BUILD_ROOT"] == "s3://bucket/wh"
    assert env["OLIST_SNAPSHOT_DATE"] == "2018-09-01"


def test_a_separate_target_path_starts_from_the_projects_parsed_state(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "target").mkdir(parents=True)
    (project / "target" / "partial_parse.msgpack").write_bytes(b"parsed")
    invocation = DbtInvocation(
        lake_root="/l", raw_batch_id="b", project_dir=project, target_path=tmp_path / "t"
    )
    invocation.seed_partial_parse()
    assert (tmp_path / "t" / "partial_parse.msgpack").read_bytes() == b"parsed"


@pytest.mark.parametrize("bad", ["2018-09-15", "2018-9-01", "latest"])
def test_snapshot_date_must_be_a_month_start(bad: str) -> None:
    with pytest.raises(ValueError, match="month start"):
        DbtInvocation(lake_root="/l", raw_batch_id="b", snapshot_date=bad)


def test_required_arguments() -> None:
    with pytest.raises(ValueError, match="lake_root"):
        DbtInvocation(lake_root="", raw_batch_id="b")
    with pytest.raises(ValueError, match="raw_batch_id"):
        DbtInvocation(lake_root="/l", raw_batch_id="")


def test_run_dbt_raises_with_the_tail_of_dbt_output(tmp_path: Path) -> None:
    fake = tmp_path / "dbt"
    fake.write_text(
        "#!/bin/sh\nfor i in $(seq 1 200); do echo line $i; done\n"
        'echo "Compilation Error in model x" >&2\nexit 2\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    invocation = DbtInvocation(lake_root="/l", raw_batch_id="b", dbt_executable=fake)
    with pytest.raises(DbtError) as raised:
        run_dbt(["run"], invocation)
    message = str(raised.value)
    assert "exit 2" in message
    assert "Compilation Error in model x" in message
    assert "line 200" in message
    assert "line 1\n" not in message
    assert raised.value.returncode == 2


def test_run_dbt_reports_a_missing_executable(tmp_path: Path) -> None:
    invocation = DbtInvocation(lake_root="/l", raw_batch_id="b", dbt_executable=tmp_path / "nope")
    with pytest.raises(DbtError, match="not found"):
        run_dbt(["run"], invocation)


def test_module_does_not_import_dbt() -> None:
    source = Path(dbt_invocation.__file__).read_text()
    assert "import dbt" not in source
    assert "from dbt" not in source

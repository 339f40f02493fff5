"""How the project runs: layer by layer in separate processes, parse without data, seed guards."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from include.olist_risk.transform.dbt_invocation import DBT_PROJECT_DIR, DbtError, DbtInvocation
from tests.dbt.helpers import Lake, spill_root

SPEC_COLUMNS = [
    ("customer_unique_id", "VARCHAR"),
    ("snapshot_date", "DATE"),
    ("customer_state", "VARCHAR"),
    ("days_since_first_order", "INTEGER"),
    ("days_since_last_order", "INTEGER"),
    ("total_orders_lifetime", "INTEGER"),
    ("orders_last_30d", "INTEGER"),
    ("orders_last_7d", "INTEGER"),
    ("orders_last_24h", "INTEGER"),
    ("distinct_sellers_last_7d", "INTEGER"),
    ("total_spent_last_30d", "DOUBLE"),
    ("cancel_rate_lifetime", "DOUBLE"),
    ("cancel_post_approval_count_30d", "INTEGER"),
    ("avg_review_score", "DOUBLE"),
    ("low_review_on_delivered_rate", "DOUBLE"),
    ("no_review_rate", "DOUBLE"),
    ("avg_customer_seller_distance_km", "DOUBLE"),
    ("distinct_shipping_states_30d", "INTEGER"),
    ("max_geographic_velocity_kmh", "DOUBLE"),
    ("credit_card_payment_share", "DOUBLE"),
    ("max_installments_lifetime", "INTEGER"),
    ("payment_method_risk_avg", "DOUBLE"),
    ("category_risk_prior_avg", "DOUBLE"),
]


def test_feature_store_parquet_has_exactly_the_spec_columns(synthetic_lake: Lake) -> None:
    import duckdb

    glob = f"{synthetic_lake.warehouse}/gold/fct_customer_return_risk_features/*/*.parquet"
    described = duckdb.sql(
        f"describe select * from read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()
    columns = {name: kind for name, kind, *_ in described}
    assert columns == dict(SPEC_COLUMNS)


def test_runs_without_the_raw_tables_location_fail_clearly(tmp_path: Path) -> None:
    invocation = DbtInvocation(
        lake_root="x", raw_batch_id="y", target_path=tmp_path / "t", log_path=tmp_path / "l"
    )
    env = invocation.env()
    del env["OLIST_RAW_TABLE_LOCATION"]
    result = subprocess.run(
        invocation.command(["run", "--select", "stg_orders"]), capture_output=True, text=True,
        env=env, cwd=DBT_PROJECT_DIR, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "OLIST_RAW_TABLE_LOCATION is required" in result.stdout


def editable_copy(tmp_path: Path) -> Path:
    """A copy of the dbt project a test may break, with the parsed state to start from
    (dbt then re-parses only the files the test changes)."""
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("logs", "sqlfluff", ".user.yml")
    )
    return project


def test_build_fails_without_the_required_seed_rows(synthetic_lake: Lake, tmp_path: Path) -> None:
    """Each seed guard fails on its own seed: both rows are removed, both tests fail."""
    project = editable_copy(tmp_path)
    required = {"payment_method_risk": "not_defined", "category_risk_priors": "__default__"}
    for seed, row in required.items():
        seed_file = project / "seeds" / f"{seed}.csv"
        lines = seed_file.read_text().splitlines()
        seed_file.write_text("\n".join(line for line in lines if not line.startswith(row)) + "\n")
    invocation = DbtInvocation(
        lake_root=synthetic_lake.lake_root,
        raw_batch_id=synthetic_lake.batch_id,
        build_root=str(tmp_path / "warehouse"),
        project_dir=project,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
    )
    from include.olist_risk.transform.dbt_invocation import run_dbt

    with pytest.raises(DbtError) as failed:
        run_dbt(["build", "--select", *required], invocation)
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    failing = {r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")}
    assert all(name.startswith("olist_has_row_") for name in failing), failing
    for seed in required:
        assert any(name.startswith(f"olist_has_row_{seed}_") for name in failing), failing
    assert "olist_has_row" in str(failed.value)


def test_unit_tests_run_alone_in_an_empty_duckdb(synthetic_lake: Lake, tmp_path: Path) -> None:
    """`dbt test --select test_type:unit` registers the tested models' parents from the lake."""
    lake = Lake(
        csv_dir=synthetic_lake.csv_dir,
        lake_root=synthetic_lake.lake_root,
        batch_id=synthetic_lake.batch_id,
        work_dir=tmp_path / "dbt",
    )
    lake.dbt("test", "--select", "test_type:unit")
    results = json.loads((tmp_path / "dbt" / "target" / "run_results.json").read_text())
    defined = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())["unit_tests"]
    assert sorted(r["unique_id"] for r in results["results"] if r["status"] == "pass") == sorted(
        defined
    )


def test_the_feature_store_contract_is_enforced(synthetic_lake: Lake, tmp_path: Path) -> None:
    """A column whose type drifts from the contract fails the build before anything is written."""
    project = editable_copy(tmp_path)
    model = project / "models" / "gold" / "fct_customer_return_risk_features.sql"
    source = model.read_text()
    drifted = source.replace(
        "snapshot_states.total_orders as total_orders_lifetime",
        "cast(snapshot_states.total_orders as bigint) as total_orders_lifetime",
    )
    assert drifted != source
    model.write_text(drifted)
    invocation = DbtInvocation(
        lake_root=synthetic_lake.lake_root,
        raw_batch_id=synthetic_lake.batch_id,
        build_root=str(tmp_path / "warehouse"),
        project_dir=project,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
    )
    from include.olist_risk.transform.dbt_invocation import run_dbt

    shutil.copytree(synthetic_lake.warehouse, tmp_path / "warehouse")
    with pytest.raises(DbtError, match=r"(?i)contract"):
        run_dbt(["run", "--select", "fct_customer_return_risk_features"], invocation)


def test_each_dbt_process_spills_into_a_directory_of_its_own(synthetic_lake: Lake) -> None:
    """Concurrent dbt processes must never share DuckDB temp files, and none may be left: the
    edge-case lake was built by one dbt process per layer, all told to spill under one root
    (conftest.py)."""
    from include.olist_risk.transform.layer_run import LAYERS

    root = spill_root(synthetic_lake)
    log = (synthetic_lake.work_dir / "logs" / "dbt.log").read_text()
    spill_dirs = re.findall(rf"set temp_directory = '{re.escape(str(root))}/([^']+)'", log)
    assert len(spill_dirs) == len(LAYERS), spill_dirs
    assert len(set(spill_dirs)) == len(spill_dirs)
    assert all(name.startswith("olist-duckdb-spill-") for name in spill_dirs)
    assert list(root.iterdir()) == []  # DuckDB removes the directory it created


# Every selection the tests below list, in one process: dbt starts and parses once.
LS_SCRIPT = """
import json, sys
from dbt.cli.main import dbtRunner
options, ls_options, selections = (json.loads(arg) for arg in sys.argv[1:4])
parsed = dbtRunner().invoke(["parse", *options])
if not parsed.success:
    raise SystemExit(f"dbt parse failed: {parsed.exception}")
runner = dbtRunner(manifest=parsed.result)
listed = []
for select in selections:
    result = runner.invoke(["ls", *options, *ls_options, "--select", *select])
    if not result.success:
        raise SystemExit(f"dbt ls --select {select} failed: {result.exception}")
    listed.append([json.loads(line) for line in result.result])
open(sys.argv[4], "w").write(json.dumps(listed))
"""


@dataclass(frozen=True)
class Listing:
    """`dbt ls` of each selection, as the orchestrated builds select (content tests
    excluded), with unique_id and original_file_path of each node."""

    target: Path
    by_selection: dict[tuple[str, ...], list[dict]]

    def __call__(self, select: list[str]) -> list[dict]:
        return self.by_selection[tuple(select)]


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Listing:
    """`dbt parse`, then `dbt ls` of every selection the tests below need, in one process,
    with no lake data behind the run values."""
    from include.olist_risk.transform.dbt_invocation import GATED_BY_SODA
    from include.olist_risk.transform.layer_run import LAYERS, PER_RUN

    selections = [
        *LAYERS.values(),
        [scope for select in LAYERS.values() for scope in select],
        ["resource_type:model"],
        *PER_RUN.values(),
    ]
    work = tmp_path_factory.mktemp("dbt-ls")
    invocation = DbtInvocation(
        lake_root="unused", raw_batch_id="unused", target_path=work / "t", log_path=work
    )
    invocation.seed_partial_parse()
    options = invocation.command([])[1:]
    ls_options = [
        *GATED_BY_SODA,
        *("--output", "json", "--output-keys", "unique_id", "original_file_path", "--quiet"),
    ]
    python = Path(invocation.dbt_executable).parent / "python"
    subprocess.run(
        [str(python), "-c", LS_SCRIPT, *map(json.dumps, (options, ls_options, selections)),
         str(work / "listed.json")],
        capture_output=True, text=True, env=invocation.env(), cwd=DBT_PROJECT_DIR, check=True,
    )  # fmt: skip
    listings = json.loads((work / "listed.json").read_text())
    return Listing(work / "t", dict(zip(map(tuple, selections), listings, strict=True)))


def test_dbt_parse_and_ls_work_without_data_or_run_values(listed: Listing) -> None:
    assert (listed.target / "manifest.json").exists()
    models = {node["unique_id"] for node in listed(["resource_type:model"])}
    assert "model.olist_risk.fct_customer_return_risk_features" in models


def test_the_layer_builds_together_run_each_node_of_one_full_build_exactly_once(
    listed: Listing,
) -> None:
    """No test is lost (or run twice) by building layer by layer, tests spanning layers too."""
    from include.olist_risk.transform.layer_run import LAYERS

    by_layer = [node["unique_id"] for select in LAYERS.values() for node in listed(select)]
    everything = [
        node["unique_id"] for node in listed([scope for s in LAYERS.values() for scope in s])
    ]

    assert sorted(by_layer) == sorted(everything)  # each node once, none missing
    assert any(node.startswith("test.") and "relationships" in node for node in by_layer)


def test_every_model_that_reads_the_snapshot_is_rebuilt_by_every_run(
    listed: Listing,
) -> None:
    """Reusing a batch's build across snapshots is only right for models that never read
    the snapshot date: those that do must be in the per-run selection, and only they."""
    from include.olist_risk.transform.layer_run import LAYERS, PER_RUN

    models = listed(["resource_type:model"])
    reads_snapshot = {
        model["unique_id"]
        for model in models
        if model["unique_id"].startswith("model.")
        and any(
            macro in (DBT_PROJECT_DIR / model["original_file_path"]).read_text()
            for macro in ("olist_snapshot_date(", "snapshot_calendar(", "OLIST_SNAPSHOT_DATE")
        )
    }
    per_run = {
        layer: {node["unique_id"] for node in listed(scope)} for layer, scope in PER_RUN.items()
    }
    rebuilt = set().union(*per_run.values())

    assert reads_snapshot == {
        "model.olist_risk.fct_customer_return_risk_features",
        "model.olist_risk.customer_risk_tiers",
    }
    assert {node for node in rebuilt if node.startswith("model.")} == reads_snapshot
    assert any(node.startswith("test.") for node in rebuilt)
    for layer, nodes in per_run.items():  # a layer rebuilds a part of its own selection
        assert nodes <= {node["unique_id"] for node in listed(LAYERS[layer])}

"""The quality gate's poke on a real lake: real dbt builds, real Soda scans.

The tiny batch (tests/ingestion/conftest.py) passes the silver contracts. Its order o3 is
`canceled`, its latest purchase (2017-03-04) makes 2017-04-01 its last snapshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.olist_risk.ingestion.batch import ingest_folder
from include.olist_risk.lake.layout import batch_build_prefix
from include.olist_risk.lake.storage import LocalLake, write_json
from include.olist_risk.quality import sensor as gate
from include.olist_risk.quality.verify import contracts_for
from include.olist_risk.transform.batch_build import mark_complete
from tests.ingestion.conftest import write_batch
from tests.quality.conftest import build

CODE = "code-test"
SNAPSHOT = "2017-04-01"


def sensor(batch_id: str, prefix: str, snapshot: str = SNAPSHOT) -> gate.UpstreamQualitySensor:
    return gate.UpstreamQualitySensor(
        task_id="quality_gate",
        layer="silver",
        build_prefix="warehouse/runs/r1",
        built_batch_id=batch_id,
        batch_build_prefix=prefix,
        code_version=CODE,
        snapshot_date=snapshot,
        rebuild_select=["path:models/bronze", "path:models/silver"],
    )


def context(run_type: str = "scheduled", params: dict | None = None) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "dag": SimpleNamespace(dag_id="return_risk_feature_store"),
        "dag_run": SimpleNamespace(run_type=run_type),
        "params": params or {},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalLake, str, str]:
    """(lake, batch id, prefix): the tiny batch's bronze and silver, a complete batch build."""
    root = tmp_path_factory.mktemp("gate")
    lake = LocalLake(root / "lake")
    batch_id = ingest_folder(LocalLake(write_batch(root / "landing")), lake)
    prefix = batch_build_prefix(batch_id, CODE, "r0")
    build(lake, batch_id, prefix, root, ["path:models/bronze", "path:models/silver"])
    mark_complete(lake, batch_id, CODE, prefix, "r0")
    return lake, batch_id, prefix


@pytest.fixture
def lake_env(built: tuple[LocalLake, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLIST_LAKE_URI", built[0].root)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """The contracts of every Soda scan the gate runs (the real scan runs)."""
    seen: list[list[Path]] = []
    real = gate.scan

    def scan(runtime: Any, prefixes: list[str], contracts: list[Path]) -> list[dict]:
        seen.append(contracts)
        return real(runtime, prefixes, contracts)

    monkeypatch.setattr(gate, "scan", scan)
    return seen


def test_a_passed_verdict_is_reused_until_the_contracts_change(
    built: tuple[LocalLake, str, str],
    lake_env: None,
    scans: list[list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, batch_id, prefix = built
    first = sensor(batch_id, prefix).poke(context())
    again = sensor(batch_id, prefix).poke(context())

    assert first.is_done and again.is_done
    assert again.xcom_value == {"raw_batch_id": batch_id, "batch_build_prefix": prefix}
    assert len(scans) == 1, "the second poke must reuse the first one's verdict"

    # A stricter contract (not part of the code version, so the build is reused) must be
    # verified on that build, not answered with the old contract's verdict.
    stricter = tmp_path / "contracts"
    shutil.copytree(contracts_for("silver")[0].parent, stricter)
    orders = stricter / "slv_orders.yml"
    orders.write_text(orders.read_text().replace(" canceled,", ""))
    monkeypatch.setattr(gate, "contracts_for", lambda layer: sorted(stricter.glob("*.yml")))
    gated = sensor(batch_id, prefix)

    assert gated.poke(context()) is False
    assert len(scans) == 2
    assert any("slv_orders.order_status" in failure for failure in gated._failures), gated._failures


def test_a_moved_batch_recorded_before_the_run_was_resolved_again_is_not_followed(
    built: tuple[LocalLake, str, str], lake_env: None
) -> None:
    """A cleared run resolves anew (here: another code version, so another batch build); the
    marker an earlier try left, naming the build it moved to then, is not for this one."""
    lake, batch_id, prefix = built
    stale = batch_build_prefix(batch_id, "code-old", "r1")
    write_json(
        lake,
        "warehouse/runs/r1/_upstream_batch.json",
        {
            "batch_id": batch_id,
            "batch_build_prefix": stale,
            "resolved": {"batch_id": "batch-before", "batch_build_prefix": "elsewhere"},
        },
    )

    passed = sensor(batch_id, prefix).poke(context())

    assert passed.xcom_value == {"raw_batch_id": batch_id, "batch_build_prefix": prefix}


@pytest.mark.parametrize(
    ("run_type", "params"), [("scheduled", {}), ("manual", {"snapshot_date": SNAPSHOT})]
)
def test_a_corrected_batch_that_no_longer_covers_the_snapshot_is_not_built(
    built: tuple[LocalLake, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_type: str,
    params: dict,
) -> None:
    """Resolved on the tiny batch (which covers 2017-04-01), the run waits at the gate while
    ingestion publishes a batch whose latest purchase moved to February: its last snapshot is
    2017-03-01. The gate must not build 2017-04-01 from it: it fails, naming both batches,
    and nothing is rebuilt."""
    _, batch_id, prefix = built
    lake = LocalLake(tmp_path / "lake")
    monkeypatch.setenv("OLIST_LAKE_URI", lake.root)
    landing = write_batch(tmp_path / "landing")
    orders = landing / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text().replace("2017-03-04 09:", "2017-02-20 09:"))
    corrected = ingest_folder(LocalLake(landing), lake)
    assert corrected != batch_id

    with pytest.raises(
        AirflowFailException, match=rf"{batch_id} -> {corrected} .*last snapshot is 2017-03-01"
    ):
        sensor(batch_id, prefix).poke(context(run_type, params))

    assert lake.list("warehouse") == []

"""A dbt build of an ingested lake (see ingestion.batch.ingest_folder), for contract tests.

Built as the DAG builds it: upstream content rules are left to the Soda gate.
"""

from __future__ import annotations

from pathlib import Path

from include.olist_risk.lake.storage import LocalLake
from include.olist_risk.transform.dbt_invocation import DbtInvocation, run_dbt


def build(lake: LocalLake, batch_id: str, build_prefix: str, work: Path, select: list[str]) -> None:
    invocation = DbtInvocation(
        lake_root=lake.root,
        raw_batch_id=batch_id,
        build_root=lake.uri(build_prefix),
        target_path=work / "target",
        log_path=work / "logs",
        extra_vars={"upstream_content_tests": False},
    )
    run_dbt(["build", "--indirect-selection", "cautious", "--select", *select], invocation)

"""A dbt build of an ingested lake (see ingestion.batch.ingest_folder), for contract tests.

Built as the DAG builds it: upstream content rules are left to the Soda gate.
"""

from __future__ import annotations

from pathlib import Path

from include.olist_risk.lake.storage import LocalLake
from include.olist_risk.transform.dbt_invocation import GATED_BY_SODA, DbtInvocation, run_dbt


def build(lake: LocalLake, batch_id: str, build_prefix: str, work: Path, select: list[str]) -> None:
    invocation = DbtInvocation(
        lake_root=lake.root,
        raw_batch_id=batch_id,
        build_root=lake.uri(build_prefix),
        target_path=work / "target",
        log_path=work / "logs",
    )
    run_dbt(["build", "--select", *select, *GATED_BY_SODA], invocation)

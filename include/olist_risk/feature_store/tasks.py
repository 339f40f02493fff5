"""The feature-store DAG's Python task bodies (dbt and the gate are operators of their own)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.olist_risk.feature_store.health import HealthThresholds, audit_feature_health
from include.olist_risk.feature_store.publish import (
    PublishRefused,
    RetentionSettings,
    collect_garbage,
    publish_snapshots,
    replace_latest_build,
)
from include.olist_risk.feature_store.resolve import resolve_run
from include.olist_risk.ingestion.batch import current_batch_id
from include.olist_risk.ingestion.coverage import batch_coverage
from include.olist_risk.lake.assets import FEATURE_STORE
from include.olist_risk.lake.runtime import load_runtime
from include.olist_risk.quality.reports import failing_checks, write_reports
from include.olist_risk.quality.verify import contracts_for, scan
from include.olist_risk.transform.batch_build import choose_batch_build
from include.olist_risk.transform.code_version import code_version

log = logging.getLogger(__name__)


def resolve(context: dict[str, Any]) -> dict[str, Any]:
    runtime = load_runtime()
    batch_id = current_batch_id(runtime.lake)
    if batch_id is None:
        raise AirflowFailException(
            f"no raw batch published in {runtime.lake.root}: run the olist_ingestion DAG first"
        )
    coverage = batch_coverage(runtime.lake, batch_id, runtime.credentials)
    log.info("%s", coverage.describe())
    try:
        run = resolve_run(context, context["params"], coverage)
    except ValueError as error:
        raise AirflowFailException(str(error)) from None
    except AirflowSkipException as skip:
        # Airflow logs the reason inside a collapsed group: say it where a reader looks first.
        log.warning("%s", skip)
        raise
    run["raw_batch_id"] = batch_id
    run["code_version"] = code_version(runtime.settings.dbt_project_dir)
    run["batch_build_prefix"], reused = choose_batch_build(
        runtime.lake, batch_id, run["code_version"], context["run_id"]
    )
    log.info(
        "building %s from raw batch %s with code %s: batch-scoped models %s %s, "
        "the run's snapshots under %s",
        run["snapshot_date"] or "every snapshot",
        batch_id,
        run["code_version"],
        "reused from" if reused else "built under",
        runtime.lake.uri(run["batch_build_prefix"]),
        runtime.lake.uri(run["build_prefix"]),
    )
    return run


def _gate(context: dict[str, Any]) -> dict[str, str]:
    """The batch that passed the gate and its batch-scoped build: what gold read."""
    return context["ti"].xcom_pull(task_ids="quality_gate")


def audit(context: dict[str, Any]) -> dict[str, Any]:
    """Write-audit-publish: the gold contract must pass, and no snapshot may look broken
    (health.py), before anything is published; feature drift is only reported."""
    runtime = load_runtime()
    thresholds = HealthThresholds.from_env()  # a bad setting fails before anything is scanned
    run = context["ti"].xcom_pull(task_ids="resolve_run")
    results = scan(runtime, [run["build_prefix"]], contracts_for("gold"))
    links = write_reports(
        runtime.lake,
        results,
        {
            "dag_id": context["dag"].dag_id,
            "run_id": context["run_id"],
            "task_id": context["ti"].task_id,
            "raw_batch_id": _gate(context)["raw_batch_id"],
        },
    )
    for link in links:
        log.info("Soda report: %s", link)
    health = audit_feature_health(
        runtime.lake,
        run["build_prefix"],
        full_refresh=not run["snapshot_date"],
        thresholds=thresholds,
        credentials=runtime.credentials,
    )
    for line in health.warnings:
        log.warning("feature health (reported, not blocking): %s", line)
    for snapshot, key in health.stats_keys.items():
        log.info("feature statistics of snapshot %s: %s", snapshot, runtime.lake.uri(key))
    failures = [line for result in results for line in failing_checks(result)]
    if failures or health.blocks:
        reasons = (["gold contract: " + "; ".join(failures)] if failures else []) + [
            "feature health: " + line for line in health.blocks
        ]
        raise AirflowFailException("gold audit failed, nothing published: " + "; ".join(reasons))
    return {
        "datasets": [result["dataset"] for result in results],
        "reports": links,
        "feature_health": {
            "stats": {s: runtime.lake.uri(key) for s, key in health.stats_keys.items()},
            "warnings": health.warnings,
        },
    }


def publish(context: dict[str, Any]) -> list[dict[str, Any]]:
    """Make the run's snapshots current at once (publish.py), then clean up behind it."""
    runtime = load_runtime()
    run = context["ti"].xcom_pull(task_ids="resolve_run")
    gate = _gate(context)
    retention = RetentionSettings.from_env()  # a bad setting fails before anything is published
    try:
        publication = publish_snapshots(
            runtime.lake,
            run["build_prefix"],
            raw_batch_id=gate["raw_batch_id"],
            version=run["code_version"],
            run_id=context["run_id"],
            full_refresh=not run["snapshot_date"],
            credentials=runtime.credentials,
        )
    except PublishRefused as error:
        raise AirflowFailException(str(error)) from None
    superseded = replace_latest_build(
        runtime.lake, [gate["batch_build_prefix"], run["build_prefix"]]
    )
    current = publication.pointer["snapshots"]
    summary = publication.summary()
    for entry in summary:
        log.info("published snapshot %s: %d rows", entry["snapshot_date"], entry["rows"])
    log.info(
        "publication %s is current: %d snapshots (%s .. %s) from raw batch %s, code %s",
        publication.publication_id,
        len(current),
        min(current),
        max(current),
        gate["raw_batch_id"],
        run["code_version"],
    )
    try:
        removed = collect_garbage(
            runtime.lake,
            superseded_builds=[p for p in superseded if p != run["build_prefix"]],
            settings=retention,
        )
        log.info("removed: %s", {kind: len(keys) for kind, keys in removed.items()})
    except Exception:
        # The publish stands; what was left is removed by the next publish's collection.
        log.warning("garbage collection failed; the next publish retries it", exc_info=True)
    # Consumers scheduled on the asset learn from its event which snapshots changed.
    context["outlet_events"][FEATURE_STORE].extra = {
        "publication_id": publication.publication_id,
        "snapshots": summary,
        "current_snapshots": len(current),
        "raw_batch_id": publication.pointer["raw_batch_id"],
        "code_version": publication.pointer["code_version"],
    }
    return summary

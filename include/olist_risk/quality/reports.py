"""Soda scan reports in the lake: JSON for machines, Markdown for people.

    reports/dag_id=<dag>/run_id=<run>/dataset=<layer.model>/scan.json
    reports/dag_id=<dag>/run_id=<run>/dataset=<layer.model>/scan.md

A sensor pokes several times; each poke overwrites the same run's report, so the report is
always the latest verdict for that run and dataset.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from include.olist_risk.lake.layout import report_prefix
from include.olist_risk.lake.storage import Lake


def _measured(check: dict[str, Any]) -> str:
    """What the check measured against its threshold, e.g. `3 (expected = 0)`."""
    value = check.get("value")
    if value is None:
        return ""
    threshold = check.get("threshold")
    return f"{value} (expected {threshold})" if threshold else str(value)


def failing_checks(result: dict[str, Any]) -> list[str]:
    """One line per check that did not pass: dataset, column, what it checks, what it found."""
    lines = []
    for check in result["checks"]:
        if check["outcome"] == "passed":
            continue
        column = f".{check['column']}" if check["column"] else ""
        measured = _measured(check)
        found = f": measured {measured}" if measured else ""
        lines.append(f"{result['dataset']}{column}: {check['name']} ({check['outcome']}){found}")
    if result.get("errors"):
        lines.append(f"{result['dataset']}: scan error: {result['errors'].strip()}")
    return lines


_ORDER = {"failed": 0, "warn": 1, "not_evaluated": 2, "excluded": 3, "passed": 4}


def render_markdown(result: dict[str, Any], context: dict[str, Any]) -> str:
    verdict = "PASSED" if result["ok"] else "FAILED"
    checks = sorted(result["checks"], key=lambda check: _ORDER.get(check["outcome"], 2))
    outcomes = [check["outcome"] for check in checks]
    rows = [
        "| outcome | column | check | measured | threshold | metrics |",
        "|---|---|---|---|---|---|",
        *(
            "| {outcome} | {column} | {name} | {value} | {threshold} | {metrics} |".format(
                outcome=check["outcome"],
                column=check["column"] or "(dataset)",
                name=check["name"],
                value="" if check.get("value") is None else check["value"],
                threshold=check.get("threshold") or "",
                metrics=", ".join(f"{k}={v}" for k, v in check["metrics"].items()),
            )
            for check in checks
        ),
    ]
    failing = failing_checks(result)
    return "\n".join(
        [
            f"# Soda contract scan: `{result['dataset']}` — {verdict}",
            "",
            "| dataset | rows | checks | passed | failed | warned | seconds | raw batch |",
            "|---|---|---|---|---|---|---|---|",
            f"| `{result['dataset']}` | {result.get('rows')} | {len(checks)} "
            f"| {outcomes.count('passed')} | {outcomes.count('failed')} "
            f"| {outcomes.count('warn')} | {result['seconds']} | `{context.get('raw_batch_id')}` |",
            "",
            f"- DAG `{context['dag_id']}`, run `{context['run_id']}`, task `{context['task_id']}`",
            f"- contract `{result['contract']}`, scanned at {context['scanned_at']}",
            *([f"- scan error: {result['errors'].strip()}"] if result.get("errors") else []),
            "",
            *(["## Failing checks", "", *(f"- {line}" for line in failing), ""] if failing else []),
            "## All checks (failing first)",
            "",
            *rows,
            "",
        ]
    )


def write_reports(lake: Lake, results: list[dict[str, Any]], context: dict[str, Any]) -> list[str]:
    """Write one JSON and one Markdown report per dataset; returns the Markdown URIs."""
    context = {**context, "scanned_at": datetime.now(UTC).isoformat(timespec="seconds")}
    links = []
    for result in results:
        prefix = report_prefix(context["dag_id"], context["run_id"], result["dataset"])
        lake.write_bytes(
            f"{prefix}/scan.json",
            json.dumps({**context, **result}, indent=2, sort_keys=True).encode(),
        )
        lake.write_bytes(f"{prefix}/scan.md", render_markdown(result, context).encode())
        links.append(lake.uri(f"{prefix}/scan.md"))
    return links

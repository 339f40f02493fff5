"""Server-rendered HTML for the plugin's pages: small, no JavaScript, every value escaped.

The pages are shown inside the Airflow UI (an iframe under the navigation entry), so links to
Airflow's own pages open in the top window (`target="_top"`); links between the plugin's pages
stay in the frame. `base` is where the plugin is mounted (e.g. `/olist`) and `airflow` where
the Airflow UI is (the same server, one level up), both taken from the request.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from .data import HISTORY_RUNS, SNAPSHOT_FIELDS

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem 1.5rem; color: #1a202c; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border: 1px solid #cbd5e0; padding: .25rem .5rem; text-align: left; }
th { background: #edf2f7; }
.failed { background: #fed7d7; } .warn { background: #fefcbf; } .passed { color: #276749; }
.muted { color: #718096; } .scroll { overflow-x: auto; }
svg.plot { display: block; } svg.plot polyline { fill: none; stroke: #2b6cb0; stroke-width: 1.5; }
svg.plot circle { fill: #2b6cb0; } svg.plot line { stroke: #c53030; stroke-dasharray: 3 2; }
"""


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _link(href: str, label: str, *, top: bool = False) -> str:
    target = ' target="_top"' if top else ""
    return f'<a href="{escape(href)}"{target}>{escape(label)}</a>'


def _page(title: str, base: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<nav>{_link(f'{base}/feature-store', 'Feature store')}"
        f"{_link(f'{base}/quality', 'Quality')}</nav>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


def _table(headers: list[str], rows: list[list[str]], row_classes: list[str] | None = None) -> str:
    """A table of already-escaped cells (callers escape values, links are markup)."""
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(
        f'<tr class="{row_classes[index] if row_classes else ""}">'
        + "".join(f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for index, row in enumerate(rows)
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def snapshot_links(base: str, snapshot: str) -> str:
    path = f"{base}/feature-store/{quote(snapshot)}"
    data = f"{base}/api/snapshots/{quote(snapshot)}"
    return " · ".join(
        [
            _link(path, "preview"),
            _link(f"{data}/data.parquet", "Parquet"),
            _link(f"{data}/data.csv", "CSV"),
        ]
    )


PLOT_WIDTH, PLOT_HEIGHT, PLOT_PAD = 180, 40, 3


def plot(values: list[float | None], title: str, top: float, threshold: float | None) -> str:
    """A small inline SVG line of `values` (oldest left) on a 0..`top` scale, broken where a
    value is missing, with a dashed line at `threshold`; `title` is its accessible name."""
    span_x, span_y = PLOT_WIDTH - 2 * PLOT_PAD, PLOT_HEIGHT - 2 * PLOT_PAD

    def x(index: int) -> float:
        return PLOT_PAD + (span_x * index / (len(values) - 1) if len(values) > 1 else span_x / 2)

    def y(value: float) -> float:
        return PLOT_PAD + span_y * (1 - min(value, top) / top)

    parts, segment = [], []
    for index, value in enumerate([*values, None]):
        if value is not None:
            segment.append(f"{x(index):.1f},{y(value):.1f}")
            parts.append(f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="1.5"/>')
        else:
            # A lone point between gaps is only its circle.
            if len(segment) > 1:
                parts.append(f'<polyline points="{" ".join(segment)}"/>')
            segment = []
    if threshold is not None and threshold <= top:
        level = f"{y(threshold):.1f}"
        parts.append(f'<line x1="{PLOT_PAD}" x2="{PLOT_PAD + span_x}" y1="{level}" y2="{level}"/>')
    return (
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{PLOT_WIDTH}" '
        f'height="{PLOT_HEIGHT}" viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT}" role="img">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _latest(values: list[float | None], fmt: str) -> str:
    known = [value for value in values if value is not None]
    return format(known[-1], fmt) if known else "—"


def feature_health_section(health: dict[str, Any]) -> str:
    """Per feature, its null rate and PSI over the current set's snapshots as small plots."""
    snapshots = health["snapshots"]
    if not snapshots:
        return (
            "<h2>Feature health</h2><p>No feature statistics in the current set: its snapshots "
            "were published before publish wrote them; the next full refresh writes them.</p>"
        )
    psi_warn = health["thresholds"].get("psi_warn")
    span = f"{len(snapshots)} snapshots, {snapshots[0]} to {snapshots[-1]}"
    rows = []
    for name, series in health["features"].items():
        nulls, psi = series["null_rate"], series["psi"]
        psi_top = max([value for value in psi if value is not None] + [psi_warn or 0.0, 0.1])
        rows.append(
            [
                escape(name),
                plot(nulls, f"{name}: null rate over {span}", 1.0, None),
                _latest(nulls, ".1%"),
                plot(
                    psi, f"{name}: PSI against the previous snapshot over {span}", psi_top, psi_warn
                ),
                _latest(psi, ".3f"),
            ]
        )
    warnings = "".join(f"<li>{escape(line)}</li>" for line in health["warnings"])
    return (
        "<h2>Feature health</h2>"
        f"<p>Per feature, over the {span} (oldest left), read from the statistics published "
        "with each snapshot: its null rate (scale 0 to 100%) and its PSI against the previous "
        f"snapshot (dashed line: the warning threshold, {_text(psi_warn)}).</p>"
        + _table(["feature", "null rate", "latest", "PSI", "latest"], rows)
        + (
            f"<details><summary>{len(health['warnings'])} warnings the gold audit reported"
            f"</summary><ul>{warnings}</ul></details>"
            if warnings
            else ""
        )
    )


def feature_store_page(base: str, snapshots: list[dict[str, Any]], health: dict[str, Any]) -> str:
    if not snapshots:
        body = "<p>Nothing is published yet: the feature-store pointer does not exist.</p>"
        return _page("Feature store", base, body)
    rows = [
        [_text(entry.get(field)) for field in SNAPSHOT_FIELDS]
        + [snapshot_links(base, entry["snapshot_date"])]
        for entry in snapshots
    ]
    body = (
        f"<p>{len(snapshots)} snapshots in the current published set "
        "(<code>feature_store/_current.json</code>), newest first.</p>"
        + _table([*SNAPSHOT_FIELDS, ""], rows)
        + feature_health_section(health)
    )
    return _page("Feature store", base, body)


def snapshot_page(
    base: str, entry: dict[str, Any], rows: dict[str, Any], nulls: dict[str, float]
) -> str:
    snapshot = entry["snapshot_date"]
    facts = _table(
        ["field", "value"],
        [[escape(field), _text(entry.get(field))] for field in (*SNAPSHOT_FIELDS, "sha256")],
    )
    null_table = _table(
        ["column", "null rate"],
        [[escape(column), f"{rate:.2%}"] for column, rate in nulls.items()],
        ["warn" if rate > 0 else "" for rate in nulls.values()],
    )
    preview = _table(rows["columns"], [[_text(value) for value in row] for row in rows["rows"]])
    body = (
        f"<p>{snapshot_links(base, snapshot)}</p>{facts}"
        f"<h2>Null rate per column</h2>{null_table}"
        f"<h2>First {len(rows['rows'])} rows</h2>{preview}"
    )
    return _page(f"Snapshot {snapshot}", base, body)


def airflow_run_url(airflow: str, dag_id: str, run_id: str, task_id: str | None = None) -> str:
    """The run (or task) page of the Airflow 3 UI."""
    url = f"{airflow}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{url}/tasks/{quote(task_id, safe='')}" if task_id else url


def _check_rows(checks: list[dict[str, Any]]) -> tuple[list[list[str]], list[str]]:
    rows = [
        [
            _text(check["outcome"]),
            _text(check["column"] or "(dataset)"),
            _text(check["name"]),
            _text(check["value"]),
            _text(check["threshold"]),
            _text(", ".join(f"{k}={v}" for k, v in check["metrics"].items())),
        ]
        for check in checks
    ]
    return rows, [_text(check["outcome"]) for check in checks]


def _history_table(base: str, dataset: dict[str, Any], current_run: str | None) -> str:
    """One row per check, one column per run (newest first): outcome and measured value."""
    head = "".join(
        "<th>"
        + _link(
            f"{base}/quality?" + urlencode({"dag": dataset["dag_id"], "run": run["run_id"]}),
            run["run_id"],
        )
        + (" <strong>(this run)</strong>" if run["run_id"] == current_run else "")
        + f'<br><span class="muted">{_text(run["scanned_at"])}</span></th>'
        for run in dataset["runs"]
    )
    rows = []
    for check in dataset["checks"]:
        by_run = {entry["run_id"]: entry for entry in check["history"]}
        cells = "".join(
            (
                f'<td class="{_text(entry["outcome"])}" title="threshold '
                f'{_text(entry["threshold"])}">{_text(entry["outcome"])}<br>'
                f"{_text(entry['value'])}</td>"
            )
            if (entry := by_run.get(run["run_id"]))
            # The run's contract had no such check (added, renamed or removed since).
            else '<td class="muted">—</td>'
            for run in dataset["runs"]
        )
        rows.append(
            f"<tr><td>{_text(check['column'] or '(dataset)')}</td>"
            f"<td>{_text(check['name'])}</td>{cells}</tr>"
        )
    return (
        f'<div class="scroll"><table><tr><th>column</th><th>check</th>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


def _history_section(base: str, history: list[dict[str, Any]], current_run: str | None) -> str:
    if not history:
        return ""
    parts = [
        "<h2>Check history</h2>"
        "<p>Each check's outcome and measured value in every run that scanned its dataset, "
        f"newest run first, read from the newest {HISTORY_RUNS} runs with reports; checks "
        "failing in their latest run first.</p>"
    ]
    for dataset in history:
        parts.append(
            f"<h3>{_text(dataset['dag_id'])} · {_text(dataset['dataset'])}</h3>"
            + _history_table(base, dataset, current_run)
        )
    return "".join(parts)


def quality_page(
    base: str,
    airflow: str,
    runs: list[dict[str, Any]],
    filters: str,
    history: list[dict[str, Any]],
    current_run: str | None = None,
) -> str:
    if not runs:
        body = f"<p>No Soda reports{escape(filters)} in the lake yet.</p>"
        return _page("Quality", base, body + _history_section(base, history, current_run))
    parts = [f"<p>Soda contract scans{escape(filters)}, newest run first, failing first.</p>"]
    for run in runs:
        verdict = "PASSED" if run["ok"] else "FAILED"
        only_run = f"{base}/quality?" + urlencode({"dag": run["dag_id"], "run": run["run_id"]})
        run_link = _link(
            airflow_run_url(airflow, run["dag_id"], run["run_id"]), "Airflow run", top=True
        )
        parts.append(
            f'<h2 class="{"passed" if run["ok"] else "failed"}">{escape(verdict)} · '
            f"{_text(run['dag_id'])} · {_text(run['run_id'])}</h2>"
            f"<p>{run_link}"
            f" · {_link(only_run, 'only this run')} · raw batch {_text(run['raw_batch_id'])}"
            f" · scanned {_text(run['scanned_at'])}</p>"
        )
        for dataset in run["datasets"]:
            task = dataset["task_id"]
            task_link = (
                _link(airflow_run_url(airflow, run["dag_id"], run["run_id"], task), task, top=True)
                if task
                else ""
            )
            parts.append(
                f"<h3>{_text(dataset['dataset'])} — {'passed' if dataset['ok'] else 'FAILED'}</h3>"
                f'<p class="muted">{_text(dataset["rows"])} rows · {dataset["passed"]} passed · '
                f"{dataset['failed']} failed · {dataset['warned']} warned · "
                f"{_text(dataset['seconds'])} s · task {task_link}</p>"
            )
            if dataset["errors"]:
                parts.append(f'<p class="failed">scan error: {_text(dataset["errors"])}</p>')
            rows, classes = _check_rows(dataset["checks"])
            parts.append(
                _table(
                    ["outcome", "column", "check", "measured", "threshold", "metrics"],
                    rows,
                    classes,
                )
            )
    parts.append(_history_section(base, history, current_run))
    return _page("Quality", base, "".join(parts))

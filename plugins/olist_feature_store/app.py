"""The plugin's FastAPI app: feature-store and quality pages plus the JSON behind them.

Airflow mounts a plugin's FastAPI app on its API server as is (`app.mount(url_prefix, app)`)
and adds no authentication to it, so every route here depends on Airflow's own auth manager,
through the same dependencies Airflow's core REST API uses
(`airflow.api_fastapi.core_api.security`): they read the JWT from the `Authorization: Bearer`
header or from the `_token` cookie the Airflow UI sets, answer 401 without one and 403 for an
invalid token or a user the auth manager does not authorise. The dependencies sit on the
routers, so a route added later cannot forget them; the OpenAPI/docs routes FastAPI would add
without them are switched off.

- feature-store routes need read access to assets (the feature store is the pipeline's asset);
- quality routes need read access to DAG runs (the reports are the runs' Soda scans).

Every request reads the lake anew through `load_runtime()` (settings, Airflow connection, lake:
local folder or S3), the same code the tasks use, so a publish shows up on the next reload.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_asset, requires_access_dag
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.background import BackgroundTask

from include.olist_risk.lake.runtime import Runtime, load_runtime

from . import data, pages

URL_PREFIX = "/olist"


def _runtime() -> Runtime:
    """Read per request, so the settings and credentials are those the tasks use right now."""
    return load_runtime()


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def _base(request: Request) -> str:
    """Where this app is mounted (`/olist`, behind any proxy prefix): links between pages."""
    return request.scope.get("root_path", "").rstrip("/")


def _airflow(request: Request) -> str:
    """The Airflow UI's root: the app is mounted on Airflow's API server at URL_PREFIX."""
    return _base(request).removesuffix(URL_PREFIX)


def _entry(runtime: Runtime, snapshot: str) -> dict[str, Any]:
    try:
        return data.snapshot_entry(runtime.lake, snapshot)
    except data.UnknownSnapshot:
        raise HTTPException(
            404, f"snapshot {snapshot!r} is not in the current published set"
        ) from None


# Auth first: the dependencies run before any route touches the lake.
feature_store = APIRouter(dependencies=[Depends(requires_access_asset("GET"))])
# No `dag_id` path or query parameter here on purpose: `requires_access_dag` would then check
# that one DAG (and look up its team in the metadata DB); this checks read access to runs.
quality = APIRouter(dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])


@feature_store.get("/", include_in_schema=False)
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/feature-store")


@feature_store.get("/api/snapshots")
def api_snapshots(runtime: RuntimeDep) -> dict[str, Any]:
    return {"snapshots": data.current_snapshots(runtime.lake)}


@feature_store.get("/api/feature-health")
def api_feature_health(runtime: RuntimeDep) -> dict[str, Any]:
    return data.feature_health(runtime.lake)


@feature_store.get("/api/snapshots/{snapshot}")
def api_snapshot(
    runtime: RuntimeDep, snapshot: str, limit: Annotated[int, Query(ge=0, le=500)] = 50
) -> dict[str, Any]:
    entry = _entry(runtime, snapshot)
    return {
        "snapshot": entry,
        "null_rates": data.null_rates(runtime, entry),
        "preview": data.preview(runtime, entry, limit),
    }


def _download(runtime: Runtime, snapshot: str, fmt: Literal["parquet", "csv"]) -> FileResponse:
    path = data.download(runtime, _entry(runtime, snapshot), fmt)
    media = "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv"
    # Streamed from a temporary file, removed once the response is sent.
    return FileResponse(
        path,
        media_type=media,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, Path(path).parent, ignore_errors=True),
    )


@feature_store.get("/api/snapshots/{snapshot}/data.parquet")
def download_parquet(runtime: RuntimeDep, snapshot: str) -> FileResponse:
    return _download(runtime, snapshot, "parquet")


@feature_store.get("/api/snapshots/{snapshot}/data.csv")
def download_csv(runtime: RuntimeDep, snapshot: str) -> FileResponse:
    return _download(runtime, snapshot, "csv")


@feature_store.get("/feature-store", response_class=HTMLResponse)
def feature_store_page(request: Request, runtime: RuntimeDep) -> str:
    return pages.feature_store_page(
        _base(request), data.current_snapshots(runtime.lake), data.feature_health(runtime.lake)
    )


@feature_store.get("/feature-store/{snapshot}", response_class=HTMLResponse)
def snapshot_page(request: Request, runtime: RuntimeDep, snapshot: str) -> str:
    entry = _entry(runtime, snapshot)
    return pages.snapshot_page(
        _base(request), entry, data.preview(runtime, entry), data.null_rates(runtime, entry)
    )


Limit = Annotated[int, Query(ge=1, le=200, description="newest runs shown")]


@quality.get("/api/quality")
def api_quality(
    runtime: RuntimeDep, dag: str | None = None, run: str | None = None, limit: Limit = 20
) -> dict[str, Any]:
    return {"runs": data.quality_runs(runtime.lake, dag_id=dag, run_id=run, limit=limit)}


HistoryRuns = Annotated[
    int, Query(ge=1, le=data.HISTORY_RUNS, description="newest runs the history reads")
]


@quality.get("/api/quality/history")
def api_quality_history(
    runtime: RuntimeDep, dag: str | None = None, runs: HistoryRuns = data.HISTORY_RUNS
) -> dict[str, Any]:
    recent = data.quality_runs(runtime.lake, dag_id=dag, limit=runs)
    return {"runs": [run["run_id"] for run in recent], "datasets": data.check_history(recent)}


@quality.get("/quality", response_class=HTMLResponse)
def quality_page(
    request: Request,
    runtime: RuntimeDep,
    dag: str | None = None,
    run: str | None = None,
    limit: Limit = 20,
) -> str:
    runs = data.quality_runs(runtime.lake, dag_id=dag, run_id=run, limit=limit)
    # The history spans the DAG's newest runs, also on one run's page (the DAG-run tab). The
    # runs listed above already are those unless the page shows one run or fewer runs.
    recent = (
        runs[: data.HISTORY_RUNS]
        if run is None and limit >= data.HISTORY_RUNS
        else data.quality_runs(runtime.lake, dag_id=dag, limit=data.HISTORY_RUNS)
    )
    filters = "".join(
        f" for {name} {value}" for name, value in (("DAG", dag), ("run", run)) if value
    )
    return pages.quality_page(
        _base(request), _airflow(request), runs, filters, data.check_history(recent), run
    )


def create_app() -> FastAPI:
    # No /docs, /redoc or /openapi.json: they would be the only routes without auth.
    app = FastAPI(
        title="Olist feature store and quality",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(feature_store)
    app.include_router(quality)
    return app


app = create_app()

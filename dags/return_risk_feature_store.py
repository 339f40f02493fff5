"""
### Return-risk feature store: bronze -> silver -> quality gate -> gold -> audit -> publish

Builds snapshot **S** of `fct_customer_return_risk_features` (one row per customer per month
start) for the data interval ending at S: the schedule is monthly with real intervals, so the
run for `[2018-05-01, 2018-06-01)` builds `2018-06-01`. Backfills build history. Parameters:
`snapshot_date` (YYYY-MM-DD, a month start) overrides the interval for manual runs;
`full_refresh` rebuilds every snapshot in one run (first load); both at once are refused.

Snapshots only where data exists: **resolve_run** reads which snapshots the current raw batch
covers (the month after its first included purchase .. the month after its last, the range a
full refresh builds). A scheduled or backfill run for a month outside it is **skipped** (every
task skipped, nothing published; the reason is in resolve_run's log), so unpausing the DAG
years after the data ends publishes nothing; a manual run for such a month is **refused**.

Each layer is a task group whose task runs one `dbt build` of the layer in one process (the
dbt project read from `OLIST_DBT_PROJECT_DIR`, run values passed as environment variables so
dbt's parsed state stays valid); its log ends with a table of every model and test. Between
silver and gold, **quality_gate** (a reschedule-mode sensor) verifies the Soda contracts of the
silver tables gold reads; while a check fails it waits, and if ingestion publishes a
corrected batch meanwhile it rebuilds bronze and silver from it at the next poke. Gold is then
built from the batch that passed, audited by its own contract, and only then published: a new
publication under `feature_store/publications/`, made current at once by replacing one pointer,
`feature_store/_current.json` (a full refresh replaces the whole set; a one-snapshot run
replaces its snapshot in a set from the same batch and code, and is refused otherwise). Soda
reports: `reports/dag_id=.../run_id=...` in the lake, linked from the task logs.

Bronze, silver and gold's snapshot-independent models depend only on the raw batch: the
first run on a batch builds them (`warehouse/batches/<batch>/<code>/`) and every later run
on that batch and code reuses them, so a monthly run builds one gold partition. Each run
builds its snapshots under its own prefix (`warehouse/runs/<run_id>/`), so concurrent runs
never share files; publishing replaces exactly the run's snapshots, and removes the build
folder of the run that published before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, TaskGroup, dag, task

from include.olist_risk.alerts import log_task_failure
from include.olist_risk.lake.assets import FEATURE_STORE
from include.olist_risk.quality.sensor import QualityReportLink, UpstreamQualitySensor
from include.olist_risk.transform.layer_build import layer_build_operator_class
from include.olist_risk.transform.layer_run import LAYERS

RUN = "ti.xcom_pull(task_ids='resolve_run')"
# Where each layer's dbt runs: on the worker (DbtLayerBuildOperator, the default) or, with
# OLIST_DBT_EXECUTION=aws_ecs, in an ECS Fargate task (deploy/README.md). An environment
# read: nothing is called at parse time.
LayerBuild = layer_build_operator_class()


def layer(name: str, built_from: str) -> TaskGroup:
    """`built_from`: the task whose XCom names the raw batch and its batch-scoped build."""
    source = f"ti.xcom_pull(task_ids='{built_from}')"
    with TaskGroup(group_id=name, tooltip=f"dbt build {' '.join(LAYERS[name])}") as group:
        LayerBuild(
            task_id="dbt_build",
            layer=name,
            select=LAYERS[name],
            raw_batch_id="{{ " + source + "['raw_batch_id'] }}",
            batch_build_prefix="{{ " + source + "['batch_build_prefix'] }}",
            code_version="{{ " + RUN + "['code_version'] }}",
            build_prefix="{{ " + RUN + "['build_prefix'] }}",
            snapshot_date="{{ " + RUN + "['snapshot_date'] }}",
            pool="dbt",
        )
    return group


@dag(
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="UTC"),
    start_date=datetime(2016, 9, 1),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["olist", "feature-store", "dbt", "soda"],
    params={
        "snapshot_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description=(
                "Build this one snapshot (YYYY-MM-DD, the first day of a month) instead of the "
                "run's interval end. It must be a month the current raw batch covers (from the "
                "month after its first included purchase to the month after its last); "
                "otherwise the run is refused. Leave empty with full_refresh."
            ),
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            description=(
                "Rebuild every snapshot the current raw batch covers in one run (first load, "
                "new delivery). Do not combine with snapshot_date: the run is refused."
            ),
        ),
        "quality_timeout_minutes": Param(
            60,
            type="integer",
            minimum=1,
            description=(
                "How long quality_gate waits for the silver Soda contracts to pass (a corrected "
                "batch may be published meanwhile) before it fails, naming the failing checks."
            ),
        ),
        "quality_poke_seconds": Param(
            120,
            type="integer",
            # Shorter intervals race Airflow's scheduler: it can re-queue the rescheduled gate
            # before it has processed the exit of the previous poke, then takes that exit for
            # a task killed externally and retries the gate (seen at 5 s with two runs).
            minimum=30,
            description=(
                "How often quality_gate re-checks the contracts while they fail (at least 30)."
            ),
        ),
    },
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": log_task_failure,
    },
)
def return_risk_feature_store():
    @task
    def resolve_run(**context) -> dict:
        from include.olist_risk.feature_store.tasks import resolve

        return resolve(context)

    run = resolve_run()
    bronze = layer("bronze", built_from="resolve_run")
    silver = layer("silver", built_from="resolve_run")
    gate = UpstreamQualitySensor(
        task_id="quality_gate",
        layer="silver",
        build_prefix="{{ " + RUN + "['build_prefix'] }}",
        built_batch_id="{{ " + RUN + "['raw_batch_id'] }}",
        batch_build_prefix="{{ " + RUN + "['batch_build_prefix'] }}",
        code_version="{{ " + RUN + "['code_version'] }}",
        snapshot_date="{{ " + RUN + "['snapshot_date'] }}",
        rebuild_select=[*LAYERS["bronze"], *LAYERS["silver"]],
        mode="reschedule",
        timeout_param="quality_timeout_minutes",
        poke_interval_param="quality_poke_seconds",
        pool="dbt",
    )
    gold = layer("gold", built_from="quality_gate")

    @task
    def audit_gold(**context) -> dict:
        from include.olist_risk.feature_store.tasks import audit

        return audit(context)

    audit = audit_gold()
    # Its "Soda report" button: a @task shares its class with every @task, so the plugin
    # cannot attach the link by class as it does for the gate; this task carries it itself.
    audit.operator.operator_extra_links = [QualityReportLink()]

    @task(outlets=[FEATURE_STORE])
    def publish(**context) -> list[dict]:
        from include.olist_risk.feature_store.tasks import publish as publish_run

        return publish_run(context)

    @task(pool="duckdb_catalog")
    def refresh_catalog() -> dict:
        from include.olist_risk.ingestion.tasks import refresh

        return refresh()

    run >> bronze >> silver >> gate >> gold >> audit >> publish() >> refresh_catalog()


return_risk_feature_store()

"""The quality gate: a sensor that holds the gold layer until upstream contracts pass.

Each poke follows the raw pointer. If ingestion published a newer batch since the run's
bronze and silver were built (a corrected file, say), the poke rebuilds bronze and silver
from it (or reuses that batch's complete build), then verifies the silver contracts. It
passes the batch it verified, and where its build is, on to gold via XCom, so gold is built
from exactly the data that passed. The batch it moves to must have data for the run's
snapshot, or the gate fails and nothing is built from it. A marker in the
run's build records the move for later pokes, and only for the resolution it was made from: a
run cleared and resolved again starts from what it resolved. In reschedule mode it holds no
worker slot between pokes; at timeout it fails naming the checks that still fail.

A batch-scoped build that is complete never changes: once the contracts passed on it, a later
run reusing that build reuses the verdict (and links the reports of the run that verified it)
instead of scanning again. The verdict is kept under a digest of the contracts it checked
(they are not part of the code version, which keys the data), so a changed contract scans
the build again.

`QualityReportLink` is the "Soda report" button of the gate and of the gold audit in the
Airflow UI: it opens the plugin's quality page (`plugins/olist_feature_store`) for the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode, urlsplit

from airflow.sdk import BaseOperatorLink, BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from include.olist_risk.ingestion.batch import current_batch_id
from include.olist_risk.ingestion.coverage import SnapshotOutsideData, batch_coverage, check_covered
from include.olist_risk.lake.layout import contracts_passed_key
from include.olist_risk.lake.runtime import Runtime, load_runtime
from include.olist_risk.lake.storage import Lake, read_json, write_json
from include.olist_risk.quality.reports import failing_checks, write_reports
from include.olist_risk.quality.verify import contracts_digest, contracts_for, scan
from include.olist_risk.transform.batch_build import choose_batch_build, completion
from include.olist_risk.transform.dbt_invocation import GATED_BY_SODA, DbtInvocation, run_dbt

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class UpstreamQualitySensor(BaseSensorOperator):
    """Poke: follow the raw pointer, rebuild upstream if it moved, verify the contracts."""

    template_fields = (
        "build_prefix",
        "built_batch_id",
        "batch_build_prefix",
        "code_version",
        "snapshot_date",
    )

    def __init__(
        self,
        *,
        layer: str,
        build_prefix: str,
        built_batch_id: str,
        batch_build_prefix: str,
        code_version: str,
        snapshot_date: str,
        rebuild_select: list[str],
        timeout_param: str | None = None,
        poke_interval_param: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.timeout_param = timeout_param
        self.poke_interval_param = poke_interval_param
        self.layer = layer
        self.build_prefix = build_prefix
        self.built_batch_id = built_batch_id
        self.batch_build_prefix = batch_build_prefix
        self.code_version = code_version
        self.snapshot_date = snapshot_date
        self.rebuild_select = rebuild_select
        self._failures: list[str] = []

    def _marker(self) -> str:
        return f"{self.build_prefix}/_upstream_batch.json"

    def _moved_to(self, lake: Lake, resolved: dict[str, str]) -> dict[str, str] | None:
        """The batch an earlier poke of this run moved to, if any. A marker left before the
        run was cleared and resolved again (another batch or code) is not this resolution's."""
        if not lake.exists(self._marker()):
            return None
        marker = read_json(lake, self._marker())
        if marker.get("resolved") != resolved:
            return None
        return {key: marker[key] for key in resolved}

    def _check_covered(self, runtime: Runtime, moved: str, current: str) -> None:
        """The run resolved its snapshot on the batch it started from: the batch it moves to
        must have data for that snapshot too, or nothing is built from it."""
        try:
            check_covered(
                self.snapshot_date, batch_coverage(runtime.lake, current, runtime.credentials)
            )
        except SnapshotOutsideData as outside:
            raise AirflowFailException(
                f"raw batch moved {moved} -> {current} while this run waited at the gate, and "
                f"{outside}. Nothing was built from it. Clearing the run resolves it again on "
                "the current batch (a scheduled or backfill run outside it is then skipped)."
            ) from None

    def poke(self, context: Any) -> bool | PokeReturnValue:
        runtime = load_runtime()
        lake = runtime.lake
        resolved = {"batch_id": self.built_batch_id, "batch_build_prefix": self.batch_build_prefix}
        built = self._moved_to(lake, resolved) or resolved
        current = current_batch_id(lake)
        if current != built["batch_id"]:
            self._check_covered(runtime, built["batch_id"], current)
            prefix, reused = choose_batch_build(lake, current, self.code_version, context["run_id"])
            if reused:
                self.log.info(
                    "raw batch moved %s -> %s: reusing its build", built["batch_id"], current
                )
            else:
                self.log.info(
                    "raw batch moved %s -> %s: rebuilding %s",
                    built["batch_id"],
                    current,
                    self.rebuild_select,
                )
                invocation = DbtInvocation(
                    lake_root=runtime.settings.lake_uri,
                    raw_batch_id=current,
                    build_root=lake.uri(self.build_prefix),
                    batch_build_root=lake.uri(prefix),
                    snapshot_date=self.snapshot_date or None,
                    s3=runtime.credentials,
                    dbt_executable=runtime.settings.dbt_executable,
                    project_dir=runtime.settings.dbt_project_dir,
                )
                # As in the layer builds: content rules are this gate's job, not dbt's.
                run_dbt(
                    ["build", "--select", *self.rebuild_select, *GATED_BY_SODA],
                    invocation,
                    on_line=self.log.info,
                )
            built = {"batch_id": current, "batch_build_prefix": prefix}
            write_json(lake, self._marker(), {**built, "resolved": resolved})

        done = PokeReturnValue(
            is_done=True,
            xcom_value={
                "raw_batch_id": built["batch_id"],
                "batch_build_prefix": built["batch_build_prefix"],
            },
        )
        contracts = contracts_for(self.layer)
        passed_key = contracts_passed_key(
            built["batch_build_prefix"], self.layer, contracts_digest(contracts)
        )
        if completion(lake, built["batch_build_prefix"]) and lake.exists(passed_key):
            passed = read_json(lake, passed_key)
            self.log.info(
                "%s contracts already passed on this build of batch %s (run %s); its reports:\n%s",
                self.layer,
                built["batch_id"],
                passed["run_id"],
                "\n".join(passed["reports"]),
            )
            return done

        results = scan(runtime, [built["batch_build_prefix"]], contracts)
        links = write_reports(
            lake,
            results,
            {
                "dag_id": context["dag"].dag_id,
                "run_id": context["run_id"],
                "task_id": self.task_id,
                "raw_batch_id": built["batch_id"],
            },
        )
        for link in links:
            self.log.info("Soda report: %s", link)
        self._failures = [line for result in results for line in failing_checks(result)]
        if self._failures:
            self.log.warning(
                "%d upstream check(s) failing on batch %s; waiting for a corrected batch:\n%s",
                len(self._failures),
                built["batch_id"],
                "\n".join(self._failures),
            )
            return False
        self.log.info(
            "all %d %s contracts pass on batch %s", len(results), self.layer, built["batch_id"]
        )
        write_json(lake, passed_key, {"run_id": context["run_id"], "reports": links})
        return done

    def execute(self, context: Any) -> Any:
        # Timeout and poke interval are run parameters, so a run can wait longer or shorter.
        params = context["params"]
        if self.timeout_param:
            self.timeout = float(params[self.timeout_param]) * 60
        if self.poke_interval_param:
            self.poke_interval = float(params[self.poke_interval_param])
        try:
            return super().execute(context)
        except AirflowSensorTimeout as timeout:
            raise AirflowSensorTimeout(
                f"{timeout}; upstream {self.layer} contracts still failing: "
                + "; ".join(self._failures or ["(no scan completed)"])
            ) from None


# Where the plugin serves a run's Soda results: its app is mounted at /olist on the API server
# and its quality page filters on `dag` and `run` (tests/plugins checks the link opens it).
REPORT_PAGE = "/olist/quality"


def quality_report_url(dag_id: str, run_id: str) -> str:
    """The plugin's quality page for one run, under the API server's base path.

    A path, not a full URL: the UI opens same-origin paths, and a host name taken from the
    configuration would be wrong for a browser that reached the server under another one.
    """
    root = urlsplit(conf.get("api", "base_url", fallback="")).path.rstrip("/")
    return f"{root}{REPORT_PAGE}?" + urlencode({"dag": dag_id, "run": run_id})


class QualityReportLink(BaseOperatorLink):
    """The "Soda report" extra link: the run's Soda results in the plugin's quality page.

    The plugin registers it for `UpstreamQualitySensor` (`operators`), so the API server
    computes it from the task instance's key, also while the gate still waits. The gold audit is
    a `@task`, whose class every `@task` shares: it carries the link on its own operator
    instead, and the worker stores the URL in XCom at the end of each try, where the API
    server reads it.
    """

    name = "Soda report"
    operators: ClassVar[list[type[BaseOperator]]] = [UpstreamQualitySensor]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return quality_report_url(ti_key.dag_id, ti_key.run_id)

"""The ECS container's entry point: one layer's `dbt build`, with the same code as the worker.

    python -m include.olist_risk.transform.layer_container gold

`EcsDbtLayerBuildOperator` (ecs_layer_build.py) starts it with the run's values as
environment variables (OLIST_RAW_BATCH_ID, OLIST_BUILD_PREFIX, OLIST_BATCH_BUILD_PREFIX,
OLIST_SNAPSHOT_DATE, OLIST_CODE_VERSION, OLIST_RUN_ID, OLIST_DBT_SELECT); the task
definition gives the constants (OLIST_LAKE_URI, OLIST_DBT_EXECUTABLE, OLIST_DBT_PROJECT_DIR).
Credentials are the ECS task role's, through boto3's chain, handed to dbt as AWS_* variables
(DuckDB does not read the container credentials endpoint itself).

Exit codes: 0 built (the last line is the result after `OLIST_LAYER_RESULT `), 1 dbt
failed (run_results.json is in the lake for the retry), 2 refused (missing values, or an
image built from other code than the run's: rebuild and push it, deploy/README.md).
No Airflow here: the image has only the tools virtualenv and boto3.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from include.olist_risk.config import load_settings
from include.olist_risk.lake.credentials import S3Credentials
from include.olist_risk.lake.storage import open_lake
from include.olist_risk.transform.code_version import code_version
from include.olist_risk.transform.layer_run import (
    LAYERS,
    RESULT_MARKER,
    LayerBuildFailed,
    LayerRun,
    build_layer,
)

REQUIRED = ("OLIST_RAW_BATCH_ID", "OLIST_BUILD_PREFIX", "OLIST_BATCH_BUILD_PREFIX")
REQUIRED += ("OLIST_CODE_VERSION", "OLIST_RUN_ID")


class Refused(RuntimeError):
    """The container cannot build this run: nothing was written."""


def layer_run_from_env(layer: str, env: Mapping[str, str]) -> LayerRun:
    if layer not in LAYERS:
        raise Refused(f"unknown layer {layer!r}: expected one of {sorted(LAYERS)}")
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise Refused(f"missing run values: {', '.join(missing)}")
    select = json.loads(env["OLIST_DBT_SELECT"]) if env.get("OLIST_DBT_SELECT") else LAYERS[layer]
    return LayerRun(
        layer=layer,
        select=list(select),
        raw_batch_id=env["OLIST_RAW_BATCH_ID"],
        build_prefix=env["OLIST_BUILD_PREFIX"],
        snapshot_date=env.get("OLIST_SNAPSHOT_DATE", ""),
        batch_build_prefix=env["OLIST_BATCH_BUILD_PREFIX"],
        code_version=env["OLIST_CODE_VERSION"],
        run_id=env["OLIST_RUN_ID"],
    )


def credentials_from_environment(env: Mapping[str, str]) -> S3Credentials:
    """The task role's credentials (boto3's chain: the ECS container credentials endpoint)."""
    import boto3

    session = boto3.Session()
    found = session.get_credentials()
    if found is None:
        raise Refused("no AWS credentials: does the task definition have a task role?")
    frozen = found.get_frozen_credentials()
    return S3Credentials(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        region=session.region_name or "us-east-1",
        endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    log = logging.getLogger("olist.layer_container")
    if args in (["--help"], ["-h"]):
        print(__doc__)
        return 0
    try:
        if len(args) != 1:
            raise Refused("usage: python -m include.olist_risk.transform.layer_container LAYER")
        run = layer_run_from_env(args[0], env)
        settings = load_settings()
        image_code = code_version(settings.dbt_project_dir)
        if image_code != run.code_version:
            raise Refused(
                f"this image holds code {image_code}, the run expects {run.code_version}: "
                "build and push the image from the deployed commit (deploy/README.md)"
            )
        credentials = credentials_from_environment(env) if settings.lake_is_s3 else None
        lake = open_lake(settings.lake_uri, credentials)
    except Refused as refused:
        log.error("refused: %s", refused)
        return 2
    log.info("dbt build of %s for run %s in %s", run.layer, run.run_id, lake.uri(run.build_prefix))
    try:
        result = build_layer(run, lake=lake, settings=settings, credentials=credentials, log=log)
    except LayerBuildFailed as failed:
        log.error("%s", failed)
        return 1
    log.info("%s%s", RESULT_MARKER, json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

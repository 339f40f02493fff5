#!/bin/sh
# Amazon MWAA startup script (deploy/bundle.py fills in the lake and landing URIs).
#
# MWAA runs this on every Airflow component before Airflow starts and keeps the variables it
# exports. It does two things:
#   1. exports what the tasks need: telemetry off (no network calls from dbt or Soda) and
#      the paths include/olist_risk/config.py reads;
#   2. builds the separate dbt + Soda virtualenv. MWAA's Airflow 3.3.1 constraints pin
#      pathspec==1.1.1 and requests==2.34.2, which dbt-core 1.11 and soda-core 4.28 reject,
#      so they cannot be installed into Airflow's environment. The venv is built offline
#      (--no-index) from the wheels the deploy ships in plugins.zip: workers in private
#      subnets have no internet egress.
# No `exit` and no `set -e`: a failure is logged loudly but must not stop Airflow starting.

export SODA_CORE_TELEMETRY_ENABLED=false
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
export DO_NOT_TRACK=1

OLIST_AIRFLOW_HOME="${AIRFLOW_HOME:-/usr/local/airflow}"
OLIST_PLUGINS_DIR="${OLIST_PLUGINS_DIR:-${OLIST_AIRFLOW_HOME}/plugins}"
OLIST_TOOLS_WHEELS="${OLIST_PLUGINS_DIR}/wheelhouse/tools"

export OLIST_TOOLS_VENV="${OLIST_TOOLS_VENV:-${OLIST_AIRFLOW_HOME}/olist-tools-venv}"
export OLIST_DBT_EXECUTABLE="${OLIST_TOOLS_VENV}/bin/dbt"
export OLIST_TOOL_PYTHON="${OLIST_TOOLS_VENV}/bin/python"
export OLIST_DBT_PROJECT_DIR="${OLIST_DBT_PROJECT_DIR:-${OLIST_AIRFLOW_HOME}/dags/dbt_project}"
export OLIST_LAKE_URI="@OLIST_LAKE_URI@"
export OLIST_LANDING_URI="@OLIST_LANDING_URI@"
# Scratch space local to one worker: nothing here may be shared between tasks.
export OLIST_DATA_DIR="${OLIST_DATA_DIR:-/tmp/olist}"

olist_build_tools_venv() {
    if [ ! -f "${OLIST_TOOLS_WHEELS}/requirements.txt" ]; then
        echo "olist startup: ERROR no ${OLIST_TOOLS_WHEELS}/requirements.txt;" \
            "dbt and Soda tasks will fail (was plugins.zip built by deploy.py?)" >&2
        return 1
    fi
    stamp="${OLIST_TOOLS_VENV}/.olist-wheels"
    wanted="$(ls "${OLIST_TOOLS_WHEELS}" | cksum)"
    if [ -x "${OLIST_DBT_EXECUTABLE}" ] && [ "$(cat "${stamp}" 2>/dev/null)" = "${wanted}" ]; then
        echo "olist startup: tools venv ${OLIST_TOOLS_VENV} is current"
        return 0
    fi
    echo "olist startup: building tools venv ${OLIST_TOOLS_VENV}"
    # MWAA sets PIP_USER=true for Airflow's own installs; a venv install must not use it.
    PIP_USER=false "${OLIST_BASE_PYTHON:-python3}" -m venv --clear "${OLIST_TOOLS_VENV}" \
        || return 1
    PIP_USER=false "${OLIST_TOOLS_VENV}/bin/python" -m pip install --quiet \
        --disable-pip-version-check --no-cache-dir --no-index \
        --find-links "${OLIST_TOOLS_WHEELS}" -r "${OLIST_TOOLS_WHEELS}/requirements.txt" \
        || return 1
    echo "${wanted}" > "${stamp}"
    echo "olist startup: tools venv ready"
}

# The web server / API server runs no tasks: skip the build there to start faster.
case "${MWAA_AIRFLOW_COMPONENT:-worker}" in
    webserver | api-server | api_server)
        echo "olist startup: ${MWAA_AIRFLOW_COMPONENT}: tools venv not needed"
        ;;
    *)
        olist_build_tools_venv || echo "olist startup: ERROR building the tools venv" >&2
        ;;
esac

# DuckDB's httpfs ships as the PyPI package duckdb-ext-httpfs: point DuckDB (in dbt and in
# Airflow's own tasks, both duckdb==1.4.4) at the copy in the tools venv so it never tries
# to download the extension.
olist_extension_dir=""
if [ -x "${OLIST_TOOL_PYTHON}" ]; then
    olist_extension_dir="$("${OLIST_TOOL_PYTHON}" -c \
        'import duckdb_ext; print(duckdb_ext.get_extension_dir())' 2>/dev/null)" \
        || olist_extension_dir=""
fi
if [ -n "${olist_extension_dir}" ]; then
    export OLIST_DUCKDB_EXTENSION_DIR="${olist_extension_dir}"
fi
# The last status is what MWAA sees: keep it 0, failures were reported above.
true

# Two images from one file (deploy/README.md):
#   docker build .                                   Airflow (Astro Runtime), the default
#   docker build --target dbt-ecs --platform linux/amd64 -t olist-dbt:TAG .
#                                                    each layer's dbt on ECS Fargate
#                                                    (OLIST_DBT_EXECUTION=aws_ecs)
# The Astro Runtime stays the first FROM (the Astro CLI reads its version there) and, through
# the last stage, the default target.

# Astro Runtime for Airflow 3.3 (the local pins are apache-airflow==3.3.1, as on MWAA).
FROM astrocrpublic.azurecr.io/runtime:3.3-2 AS airflow

# dbt and Soda get their own virtualenv, as on MWAA (see requirements/tools.txt).
COPY requirements/tools.txt /tmp/tools.txt
RUN python -m venv /usr/local/airflow/tools_venv \
    && /usr/local/airflow/tools_venv/bin/pip install --no-cache-dir -r /tmp/tools.txt

ENV OLIST_DBT_EXECUTABLE=/usr/local/airflow/tools_venv/bin/dbt \
    OLIST_TOOL_PYTHON=/usr/local/airflow/tools_venv/bin/python \
    SODA_CORE_TELEMETRY_ENABLED=false \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DO_NOT_TRACK=1 \
    SCARF_ANALYTICS=false \
    AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP="include\..*"

# ------------------------------------------------------------------------------ dbt-ecs
# What an ECS task runs: `python -m include.olist_risk.transform.layer_container LAYER`.
# The same tools virtualenv (dbt + Soda, requirements/tools.txt), boto3 for the lake (the
# version MWAA 3.3.1's constraints pin), the runtime package and the dbt project with the
# parsed state `dbt parse` leaves, made here in the environment every run gets. No Airflow.
# The container refuses a run whose code version differs from the image's: rebuild and push
# with every deploy that changes dbt_project/ or include/olist_risk/transform/.
FROM python:3.12-slim-bookworm AS dbt-ecs

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/olist/app \
    OLIST_DBT_EXECUTABLE=/opt/olist/tools/bin/dbt \
    OLIST_TOOL_PYTHON=/opt/olist/tools/bin/python \
    OLIST_DBT_PROJECT_DIR=/opt/olist/app/dbt_project \
    SODA_CORE_TELEMETRY_ENABLED=false \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DO_NOT_TRACK=1

COPY requirements/tools.txt /tmp/tools.txt
RUN python -m venv /opt/olist/tools \
    && /opt/olist/tools/bin/pip install --no-cache-dir -r /tmp/tools.txt \
    && pip install --no-cache-dir boto3==1.43.56 \
    && rm /tmp/tools.txt

WORKDIR /opt/olist/app
COPY include/__init__.py include/__init__.py
COPY include/olist_risk include/olist_risk
# .dockerignore leaves out dbt_project/target and logs: the parse below writes target/
COPY dbt_project dbt_project
RUN python -m include.olist_risk.transform.dbt_invocation "$OLIST_DBT_EXECUTABLE" \
    && test -f dbt_project/target/partial_parse.msgpack \
    && rm -rf dbt_project/logs

RUN useradd --uid 50000 --home-dir /tmp --no-create-home olist
USER 50000
CMD ["python", "-m", "include.olist_risk.transform.layer_container", "--help"]

# ------------------------------------------------------------------------------ default
# `docker build .` and the Astro CLI build the last stage: the Airflow image above.
FROM airflow

# Astro Runtime for Airflow 3.3 (the local pins are apache-airflow==3.3.1, as on MWAA).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

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

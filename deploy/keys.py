"""Where things go: the bucket keys MWAA reads, and where MWAA puts them on its containers.

The CloudFormation template (deploy/cloudformation/mwaa.yaml) grants the execution role read
access to exactly these keys; tests/deploy checks the two agree.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MWAA_DIR = Path(__file__).resolve().parent / "mwaa"
# A verbatim copy of the constraints MWAA applies for Airflow 3.3.1 (Python 3.12): resolving
# against the copy needs no download and cannot drift from what the lock was compiled under.
MWAA_CONSTRAINTS = PROJECT_ROOT / "requirements" / "mwaa" / "constraints-3.3.1.txt"
# The dbt + Soda venv: the same pins as the Astro image's tools venv.
TOOLS_REQUIREMENTS = Path("requirements") / "tools.txt"

# Bucket keys. MWAA syncs DAG_PREFIX/ to every component and pins the three files by version.
DAGS_PREFIX = "dags"
PLUGINS_KEY = "plugins.zip"
REQUIREMENTS_KEY = "requirements.txt"
STARTUP_KEY = "startup.sh"
VERSIONED_KEYS = (PLUGINS_KEY, REQUIREMENTS_KEY, STARTUP_KEY)
# The pipeline's data: the lake (written by the DAGs) and the landing zone (written by people).
LAKE_PREFIX = "lake"
LANDING_PREFIX = "landing"

# Where MWAA extracts plugins.zip on every component.
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins"
WHEELHOUSE_IN_ZIP = "wheelhouse"
TOOLS_WHEELS = "tools"
AIRFLOW_WHEELS = "airflow"

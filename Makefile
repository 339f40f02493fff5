# Local, no-Docker entry points. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# dbt and Soda also get a virtualenv of their own, as on MWAA and in the Astro image; the
# DAGs reach them through these two variables, so local runs exercise the same code path.
TOOLS_VENV := $(CURDIR)/.venv-tools
SCALE ?= 1.0
PORT ?= 8080

export PYTHONPATH := $(CURDIR)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__EXECUTOR := LocalExecutor
# 2 cores: more than 4 concurrent task processes only thrash.
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG := 4
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK := True
export AIRFLOW__API__PORT := $(PORT)
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS := admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE := $(AIRFLOW_HOME)/passwords.json
export SODA_CORE_TELEMETRY_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export SCARF_ANALYTICS := false
export AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP := include\..*
export OLIST_DBT_EXECUTABLE ?= $(TOOLS_VENV)/bin/dbt
export OLIST_TOOL_PYTHON ?= $(TOOLS_VENV)/bin/python

.PHONY: help setup airflow-init run test lint format airflow lock bench clean

help:
	@echo "make run    set up, generate scale-$(SCALE) data, run the pipeline, print where outputs are"
	@echo "make test   set up and run the whole test suite"
	@echo "make airflow  start the Airflow UI on http://localhost:$(PORT) (Ctrl-C stops it)"
	@echo "make lint   ruff + sqlfluff;  make bench  Airflow vs one dbt process (SCALE; SCHEDULER=1 adds a real scheduler);  make lock  re-pin requirements"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --compile-bytecode: uv (unlike pip) installs no .pyc, and with PYTHONDONTWRITEBYTECODE set
# (as on this machine) none is ever written, so every process would compile its imports again:
# measured, importing dbt took 4.1-5.5 s without and 1.9 s with, Airflow 2.6 s and 1.8 s.
$(VENV)/.installed: requirements/local.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.12.3
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements/local.txt
	touch $@

# dbt's parsed state, made in the environment every run gets, so that no run re-parses.
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := dbt_project/dbt_project.yml dbt_project/profiles.yml $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests -type f 2>/dev/null)

$(MANIFEST): $(TOOLS_VENV)/.installed $(DBT_SOURCES)
	$(BIN)/python -m include.olist_risk.transform.dbt_invocation $(OLIST_DBT_EXECUTABLE)
	touch $@

$(TOOLS_VENV)/.installed: requirements/tools.txt requirements/local.txt | $(VENV)/.installed
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(TOOLS_VENV)/bin/python -r requirements/tools.txt -c requirements/local.txt
	touch $@

# The browser test (tests/e2e/test_feature_store_under_scheduler.py) drives the machine's Chromium through
# Playwright (whose own browser download is not used): Debian's package, installed only when
# missing so a re-run costs nothing. Skipped when OLIST_CHROMIUM names another browser.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	@command -v apt-get > /dev/null || { echo "no apt-get: install Chromium and set OLIST_CHROMIUM to it (the browser test needs it)"; exit 1; }
	@echo "Installing Chromium (Debian package) for the browser test..."
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

setup: $(VENV)/.installed $(TOOLS_VENV)/.installed $(MANIFEST) $(if $(OLIST_CHROMIUM),,$(CHROMIUM))

# Compiled under MWAA's constraints (requirements/mwaa/) minus the exceptions deploy/pins.py
# lists with reasons, read from stdin (-c -).
lock: | $(BIN)/python
	set -o pipefail; $(BIN)/python -m deploy.pins constraints | $(BIN)/uv pip compile --quiet \
		--python-version 3.11 --custom-compile-command "make lock" -c - requirements/local.in \
		-o requirements/local.txt

airflow-init: setup
	@mkdir -p $(AIRFLOW_HOME)
	@test -f $(AIRFLOW_HOME)/passwords.json || echo '{"admin": "admin"}' > $(AIRFLOW_HOME)/passwords.json
	$(BIN)/python -m dev.metadata_db -- $(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/python -m dev.metadata_db -- $(BIN)/python -m dev.airflow_settings airflow_settings.yaml

run: airflow-init
	$(BIN)/python -m dev.local_run --scale $(SCALE)

# Three workers for two cores: the e2e module (collected first, tests/conftest.py) uses about
# one core and waits on its scheduler in between; the other two workers, at a lower priority,
# fill what it leaves. A test file runs whole, in order, on one worker (its e2e tests build on
# each other); files go out in collection order.
test: setup
	$(BIN)/pytest -n 3 --dist loadfile --no-loadscope-reorder

# sqlfluff's dbt templater reads the .sqlfluff of its working directory, hence the cd; it
# compiles through dbt's profile, which loads httpfs from the wheel-shipped directory.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && OLIST_DUCKDB_EXTENSION_DIR=$$($(BIN)/python -c 'from include.olist_risk.transform.dbt_invocation import duckdb_extension_dir; print(duckdb_extension_dir())') $(BIN)/sqlfluff lint models

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

airflow: airflow-init
	@echo "Airflow UI: http://localhost:$(PORT)  (user admin, password admin; local only)"
	$(BIN)/python -m dev.local_airflow --port $(PORT)

bench: setup
	$(BIN)/python benchmarks/pipeline.py --scale $(SCALE) $(if $(SCHEDULER),--scheduler)

clean:
	rm -rf $(AIRFLOW_HOME) data dbt_project/target

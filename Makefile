# Local, no-Docker entry points. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
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
export SODA_CORE_TELEMETRY_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export SCARF_ANALYTICS := false
export AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP := include\..*

.PHONY: help setup airflow-init run test lint format airflow lock bench clean

help:
	@echo "make run    set up, generate scale-$(SCALE) data, run the pipeline, print where outputs are"
	@echo "make test   set up and run the whole test suite"
	@echo "make airflow  start the Airflow UI on http://localhost:$(PORT) (Ctrl-C stops it)"
	@echo "make lint   ruff + sqlfluff;  make bench  benchmarks;  make lock  re-pin requirements"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements/local.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements/local.txt
	touch $@

setup: $(VENV)/.installed

lock: | $(BIN)/python
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements/local.in -o requirements/local.txt

airflow-init: setup
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/python -m include.olist_risk.airflow_settings airflow_settings.yaml

run: airflow-init
	$(BIN)/python -m include.olist_risk.local_run --scale $(SCALE)

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

airflow: airflow-init
	@echo "Airflow UI: http://localhost:$(PORT)  (user admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	exec $(BIN)/airflow standalone

bench: setup
	$(BIN)/python benchmarks/generate.py

clean:
	rm -rf $(AIRFLOW_HOME) data dbt_project/target

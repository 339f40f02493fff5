"""SQLAlchemy connect args for the e2e Airflow's SQLite metadata DB.

`AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=tests.e2e.sqlite_connect.CONNECT_ARGS`: the
scheduler, DAG processor, API server and triggerer all write to one SQLite file, and
Python's default 5 s lock timeout is too short on a busy 2-core machine ("database is
locked"). The harness also switches the file to WAL journaling after `airflow db migrate`.
"""

from __future__ import annotations

CONNECT_ARGS = {"timeout": 60}

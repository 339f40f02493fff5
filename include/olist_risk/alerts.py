"""Failure callbacks: one clear line per failed task, easy to grep and to route to alerting."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("olist_risk.alerts")


def log_task_failure(context: dict[str, Any]) -> None:
    ti = context.get("ti") or context.get("task_instance")
    error = context.get("exception")
    log.error(
        "TASK FAILED dag=%s task=%s run=%s map_index=%s try=%s: %s",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        getattr(ti, "run_id", "?"),
        getattr(ti, "map_index", -1),
        getattr(ti, "try_number", "?"),
        str(error).splitlines()[0] if error else "no exception recorded",
    )

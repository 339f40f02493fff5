"""Apply airflow_settings.yaml (the Astro CLI format) to a local Airflow metadata database.

`astro dev start` does this inside Docker; without Docker nothing does, so `make run` and
`make airflow` call this. Existing entries with the same id are replaced, so it is safe to
run on every start.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from include.olist_risk.config import PROJECT_ROOT


def read_settings(path: Path) -> dict[str, list[dict[str, Any]]]:
    section = (yaml.safe_load(path.read_text()) or {}).get("airflow") or {}
    return {name: section.get(name) or [] for name in ("connections", "pools", "variables")}


def apply_settings(path: Path) -> dict[str, int]:
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    settings = read_settings(path)
    with create_session() as session:
        for item in settings["connections"]:
            session.query(Connection).filter(Connection.conn_id == item["conn_id"]).delete()
            extra = item.get("conn_extra")
            session.add(
                Connection(
                    conn_id=item["conn_id"],
                    conn_type=item["conn_type"],
                    host=item.get("conn_host"),
                    schema=item.get("conn_schema"),
                    login=item.get("conn_login"),
                    password=item.get("conn_password"),
                    port=item.get("conn_port"),
                    extra=json.dumps(extra) if isinstance(extra, dict) else extra,
                )
            )
        for item in settings["pools"]:
            session.query(Pool).filter(Pool.pool == item["pool_name"]).delete()
            session.add(
                Pool(
                    pool=item["pool_name"],
                    slots=int(item["pool_slot"]),
                    description=item.get("pool_description", ""),
                    include_deferred=False,
                )
            )
        for item in settings["variables"]:
            session.query(Variable).filter(Variable.key == item["variable_name"]).delete()
            session.add(Variable(key=item["variable_name"], val=str(item["variable_value"])))
    return {name: len(items) for name, items in settings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "path", nargs="?", type=Path, default=PROJECT_ROOT / "airflow_settings.yaml"
    )
    counts = apply_settings(parser.parse_args().path)
    print(f"applied airflow_settings.yaml: {counts}")


if __name__ == "__main__":
    main()

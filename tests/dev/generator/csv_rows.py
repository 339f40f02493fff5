"""Reading generated CSVs back the way a plain consumer would: Python's csv module."""

from __future__ import annotations

import csv
from pathlib import Path

from include.olist_risk.olist import tables as olist

SCALE = 0.05
SEED = 42


def read_rows(directory: Path, file_name: str) -> list[dict[str, str]]:
    """Rows as the standard csv module parses them (utf-8-sig strips the translation BOM)."""
    with (directory / file_name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def read_table(directory: Path, table: str) -> list[dict[str, str]]:
    return read_rows(directory, olist.TABLES[table].file_name)

"""Validate one Olist CSV against its table definition and convert it to Parquet.

Raw Parquet keeps every value as text, exactly as the file had it (empty fields as NULL):
bronze decides how to cast. Validation only proves the text *can* be cast, so that a bad
file stops at the door with a message naming the file, the data row and the column.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from include.olist_risk.olist.tables import TIMESTAMP_FORMAT, ColumnType, OlistTable

UTF8_BOM = codecs.BOM_UTF8


@dataclass
class IngestionError(Exception):
    """A file that cannot be published; `row` is the 1-based data row (header excluded)."""

    file_name: str
    code: str
    detail: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file_name]
        if self.row is not None:
            where.append(f"data row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: [{self.code}] {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": str(self)}


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def check_encoding(path: Path, file_name: str) -> None:
    """Fail on the first line that is not UTF-8 (a UTF-8 BOM is allowed, as in Kaggle's files)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as error:
                raise IngestionError(
                    file_name,
                    "encoding",
                    f"line {line_number} is not valid UTF-8 ({error.reason} at byte "
                    f"{error.start} of the line); re-export the file as UTF-8",
                ) from None


def check_header(path: Path, table: OlistTable, file_name: str) -> None:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise IngestionError(file_name, "empty_file", "the file is empty: no header, no rows")
    text = first.removeprefix(UTF8_BOM).decode("utf-8")
    header = next(csv.reader(io.StringIO(text)))
    if header == table.header:
        return
    missing = [name for name in table.header if name not in header]
    unexpected = [name for name in header if name not in table.header]
    problems = []
    if missing:
        problems.append(f"missing column(s) {missing}")
    if unexpected:
        problems.append(f"unexpected column(s) {unexpected}")
    if not problems:
        problems.append(f"columns out of order: {header}")
    raise IngestionError(
        file_name,
        "header",
        "; ".join(problems) + f"; expected exactly {table.header}",
        column=(missing or unexpected or [None])[0],
    )


def _load(con: duckdb.DuckDBPyConnection, path: Path, table: OlistTable, file_name: str) -> int:
    columns = "{" + ", ".join(f"{_sql_literal(c)}: 'varchar'" for c in table.header) + "}"
    try:
        con.execute(
            f"""
            create or replace table staged as
            select row_number() over () as _row, *
            from read_csv(
                {_sql_literal(str(path))},
                header = true, auto_detect = false, columns = {columns},
                delim = ',', quote = '"', escape = '"', strict_mode = true,
                null_padding = false, parallel = false
            )
            """
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise IngestionError(file_name, "malformed_csv", first_line) from None
    rows = con.execute("select count(*) from staged").fetchone()[0]
    if rows == 0:
        raise IngestionError(file_name, "no_rows", "the header is there but no data rows follow")
    # Kaggle writes empty fields for NULL; a quoted "" means the same thing in these files.
    con.execute(
        "update staged set " + ", ".join(f'"{c}" = nullif("{c}", \'\')' for c in table.header)
    )
    return rows


_PARSE_CHECKS = {
    ColumnType.INTEGER: ("try_cast(trim({c}) as bigint) is null", "not an integer"),
    ColumnType.NUMERIC: ("try_cast(trim({c}) as double) is null", "not a number"),
    ColumnType.TIMESTAMP: (
        f"try_strptime({{c}}, '{TIMESTAMP_FORMAT}') is null",
        "not a timestamp in YYYY-MM-DD HH:MM:SS",
    ),
}


def _first_violation(con: duckdb.DuckDBPyConnection, condition: str, column: str):
    return con.execute(
        f'select _row, "{column}" from staged where {condition} order by _row limit 1'
    ).fetchone()


def _check_values(con: duckdb.DuckDBPyConnection, table: OlistTable, file_name: str) -> None:
    for column in table.columns:
        quoted = f'"{column.name}"'
        if not column.nullable:
            hit = _first_violation(con, f"{quoted} is null", column.name)
            if hit:
                raise IngestionError(
                    file_name,
                    "null_value",
                    "required value is empty",
                    row=hit[0],
                    column=column.name,
                )
        if column.type in _PARSE_CHECKS:
            condition, what = _PARSE_CHECKS[column.type]
            hit = _first_violation(
                con, f"{quoted} is not null and {condition.format(c=quoted)}", column.name
            )
            if hit:
                raise IngestionError(
                    file_name, "bad_type", f"{what}: {hit[1]!r}", row=hit[0], column=column.name
                )


def _check_key(con: duckdb.DuckDBPyConnection, table: OlistTable, file_name: str) -> None:
    if not table.key:
        return
    key = ", ".join(f'"{c}"' for c in table.key)
    hit = con.execute(
        f"""
        select min(_row), max(_row), {key}
        from staged group by {key} having count(*) > 1 order by min(_row) limit 1
        """
    ).fetchone()
    if hit:
        values = dict(zip(table.key, hit[2:], strict=True))
        raise IngestionError(
            file_name,
            "duplicate_key",
            f"key {values} appears more than once (first at data row {hit[0]})",
            row=hit[1],
            column=", ".join(table.key),
        )


def validate_to_parquet(csv_path: Path, table: OlistTable, parquet_path: Path) -> int:
    """Validate `csv_path` as `table`; on success write all-text Parquet and return the rows."""
    file_name = table.file_name
    if csv_path.stat().st_size == 0:
        raise IngestionError(file_name, "empty_file", "the file is empty: no header, no rows")
    check_encoding(csv_path, file_name)
    check_header(csv_path, table, file_name)
    with duckdb.connect() as con:
        rows = _load(con, csv_path, table, file_name)
        _check_values(con, table, file_name)
        _check_key(con, table, file_name)
        columns = ", ".join(f'"{c}"' for c in table.header)
        parquet_path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy (select {columns} from staged order by _row) "
            f"to {_sql_literal(str(parquet_path))} (format parquet, compression zstd)"
        )
    return rows

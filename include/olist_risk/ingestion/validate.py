"""Validate one Olist CSV against its table definition and convert it to Parquet.

Raw Parquet keeps every value as text, exactly as the file had it (empty fields as NULL):
bronze decides how to cast. Validation proves that each value is exactly what its column's
domain in `olist.tables` says, as bronze will cast it (an INT32 integer within the column's
range, a finite plain decimal, a real `YYYY-MM-DD HH:MM:SS` timestamp, an id without hidden
characters...), so that a bad file stops at the door instead of being rounded, overflowing or
orphaning rows later.

In order: the bytes are UTF-8 (a leading BOM is allowed); the header is exactly the table's,
with LF or CRLF line endings; DuckDB parses the file strictly into an all-text table; every
value is checked in one SQL pass over that table; every line of the file is in a parsed row
(DuckDB drops the rest of a file after a quote that is never closed, without an error); keys
are unique. Rows FEATURES.md section 1 says to ignore (`OlistTable.ignored_when_null`) are not
a reason to reject a file: they are kept as they are and counted in `ValidationResult.ignored`.

A rejected file raises `IngestionError`, which names the file, the first offending data row
(1-based, header excluded) and column, lists the first `MAX_OFFENDERS` offenders in row order,
each value shown as a Python literal (an invisible character reads `'\\ufeffabc'`), and counts
them all, in total and per column. Any error of the parsers (DuckDB's, Python's `csv`, the UTF-8
decoder) becomes an `IngestionError` with the parser's whole message, so every bad file is
quarantined with a reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from include.olist_risk.olist.tables import (
    ID_CHARACTERS,
    ID_MAX_LENGTH,
    ID_PATTERN,
    INT32_MAX,
    INT32_MIN,
    TIMESTAMP_FORMAT,
    Column,
    ColumnType,
    OlistTable,
)

UTF8_BOM = codecs.BOM_UTF8
MAX_OFFENDERS = 20
# An offending value longer than this is shown cut, with its length: the problem text already
# names the offending characters and their position, and a 2 MB review must not become the
# reason file.
VALUE_PREVIEW = 200
_BLOCK = 1 << 20


@dataclass
class IngestionError(Exception):
    """A file that cannot be published; `row` is the 1-based data row (header excluded).

    `row` and `column` locate the first offender; `offenders` lists the first `MAX_OFFENDERS`
    (`{row, column, value, problem, code}` in row order), `offender_count` counts them all and
    `offender_counts` per column.
    """

    file_name: str
    code: str
    detail: str
    row: int | None = None
    column: str | None = None
    offenders: list[dict[str, object]] = field(default_factory=list)
    offender_count: int = 0
    offender_counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        where = [self.file_name]
        if self.row is not None:
            where.append(f"data row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: [{self.code}] {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": str(self)}


@dataclass(frozen=True)
class ValidationResult:
    """A file that passed: its data rows, and the rows the spec ignores, counted by reason."""

    rows: int
    ignored: dict[str, int]


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def show_value(value: str) -> str:
    """A value as an unambiguous Python literal: hidden characters appear as escapes."""
    if len(value) <= VALUE_PREVIEW:
        return repr(value)
    return f"{value[:VALUE_PREVIEW]!r}... ({len(value)} characters)"


@dataclass(frozen=True)
class _ByteCounts:
    """What the raw bytes say, to check that the parsed rows account for the whole file."""

    newlines: int
    quotes: int
    trailing_newlines: int


def _encoding_error(path: Path, file_name: str) -> IngestionError:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as error:
                return IngestionError(
                    file_name,
                    "encoding",
                    f"line {line_number} is not valid UTF-8 ({error.reason} at byte "
                    f"{error.start} of the line); re-export the file as UTF-8",
                )
    return IngestionError(
        file_name, "encoding", "the file ends inside a UTF-8 character; re-export it as UTF-8"
    )


def _scan_bytes(path: Path, file_name: str) -> _ByteCounts:
    """Fail unless the file is UTF-8 (a BOM is allowed, as in Kaggle's files); count line breaks.

    Decoding goes by blocks; only a bad file is scanned again line by line to name the line.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = quotes = 0
    tail = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                raise _encoding_error(path, file_name) from None
            newlines += block.count(b"\n")
            quotes += block.count(b'"')
            tail = (tail + block)[-4096:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _encoding_error(path, file_name) from None
    ending = tail[len(tail.rstrip(b"\r\n")) :]
    return _ByteCounts(newlines, quotes, ending.count(b"\n"))


def check_header(path: Path, table: OlistTable, file_name: str) -> None:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise IngestionError(file_name, "empty_file", "the file is empty: no header, no rows")
    text = first.removeprefix(UTF8_BOM).decode("utf-8").removesuffix("\n").removesuffix("\r")
    if "\r" in text:
        # A reader splitting on LF sees one endless line; DuckDB would guess. Say so instead.
        raise IngestionError(
            file_name,
            "line_endings",
            "CR-only line endings (classic Mac); re-export with LF or CRLF",
        )
    try:
        header = next(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise IngestionError(file_name, "header", f"the header line is not CSV: {error}") from None
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
    # Kaggle writes empty fields for NULL; a quoted "" means the same thing in these files.
    values = ", ".join(f"nullif({_ident(c)}, '') as {_ident(c)}" for c in table.header)
    try:
        con.execute(
            f"""
            create or replace table staged as
            select row_number() over () as _row, {values}
            from read_csv(
                {_sql_literal(str(path))},
                header = true, auto_detect = false, columns = {columns},
                delim = ',', quote = '"', escape = '"', strict_mode = true,
                null_padding = false, parallel = false
            )
            """
        )
    except duckdb.Error as error:
        # The whole message: its later lines say why (line size, unterminated quote) and how.
        raise IngestionError(file_name, "malformed_csv", str(error).strip()) from None
    rows = con.execute("select count(*) from staged").fetchone()[0]
    if rows == 0:
        raise IngestionError(file_name, "no_rows", "the header is there but no data rows follow")
    return rows


def _check_every_line_parsed(
    con: duckdb.DuckDBPyConnection,
    table: OlistTable,
    file_name: str,
    rows: int,
    counts: _ByteCounts,
) -> None:
    """Fail when some lines of the file are in no parsed row.

    DuckDB drops everything after a quote that is never closed without an error, and skips
    blank lines: both would lose or hide rows silently. Every line break of the file is either
    the end of the header, the end of a row, inside a quoted value, or a trailing empty line.
    Runs after `_check_values`, so only free text can still hold line breaks.
    """
    free_text = [c.name for c in table.columns if c.type == ColumnType.FREE_TEXT]
    inside = " + ".join(
        f"coalesce(sum(strlen({_ident(c)}) - strlen(replace({_ident(c)}, chr(10), ''))), 0)"
        for c in free_text
    )
    in_values = con.execute(f"select {inside} from staged").fetchone()[0] if free_text else 0
    row_ends = rows if counts.trailing_newlines else rows - 1
    accounted = 1 + row_ends + int(in_values) + max(counts.trailing_newlines - 1, 0)
    lost = counts.newlines - accounted
    if lost == 0:
        return
    if counts.quotes % 2:
        detail = (
            f"a quote opened in data row {rows + 1} is never closed (the file holds an odd "
            f"number of '\"' characters, {counts.quotes}): DuckDB takes the rest of the "
            f"file, {lost} line(s), as one unfinished value and drops it without an error"
        )
        raise IngestionError(file_name, "unterminated_quote", detail, row=rows + 1)
    raise IngestionError(
        file_name,
        "malformed_csv",
        f"{lost} line(s) of the file belong to no parsed row (blank lines inside the file?); "
        f"{counts.newlines} line breaks, {rows} data rows",
    )


# Characters no code-like text may hold: controls, format (invisible) characters such as
# U+FEFF or U+200B..U+200D, line/paragraph separators, and every space but U+0020, which
# bronze's trim keeps and which make equal-looking codes differ.
_HIDDEN_SQL = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"
# Free text is what people typed: it may break lines (CR, LF) and hold tabs; any other
# control character is damage.
_CONTROL_SQL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
_INTEGER_SQL = "-?[0-9]+"
_DECIMAL_SQL = r"-?[0-9]+(\.[0-9]+)?"
_EXPONENT_SQL = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
_TIMESTAMP_SQL = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_ID_CHAR = re.compile(f"[{ID_CHARACTERS}]")
_DOUBLE_MAX = sys.float_info.max


def _within_sql(value: str, low: float, high: float) -> str:
    """True only for a value in [low, high]: NULL (a failed cast), NaN and inf are outside."""
    return f"coalesce({value} between {low!r} and {high!r}, false)"


def _bounds(column: Column) -> str:
    if column.maximum is None:
        return f">= {column.minimum}"
    if column.minimum is None:
        return f"<= {column.maximum}"
    return f"{column.minimum}..{column.maximum}"


def _problem_sql(column: Column) -> str:
    """A CASE naming the column's first problem in a row (a kind `_describe` knows) or NULL."""
    c = _ident(column.name)
    whens = [(f"{c} is null", "'null'" if not column.nullable else "null")]
    match column.type:
        case ColumnType.ID:
            whens.append((f"not regexp_full_match({c}, {_sql_literal(ID_PATTERN)})", "'id'"))
        case ColumnType.TEXT:
            whens.append((f"regexp_matches({c}, {_sql_literal(_HIDDEN_SQL)})", "'text'"))
        case ColumnType.FREE_TEXT:
            whens.append((f"regexp_matches({c}, {_sql_literal(_CONTROL_SQL)})", "'free_text'"))
        # One cast and one comparison per value: `_describe` tells overflow from range.
        case ColumnType.INTEGER:
            low = max(INT32_MIN, INT32_MIN if column.minimum is None else column.minimum)
            high = min(INT32_MAX, INT32_MAX if column.maximum is None else column.maximum)
            whens.append((f"not regexp_full_match({c}, '{_INTEGER_SQL}')", "'integer'"))
            within = _within_sql(f"try_cast({c} as integer)", low, high)
            whens.append((f"not {within}", "'range'"))
        case ColumnType.NUMERIC:
            low = -_DOUBLE_MAX if column.minimum is None else column.minimum
            high = _DOUBLE_MAX if column.maximum is None else column.maximum
            pattern = _EXPONENT_SQL if column.exponent else _DECIMAL_SQL
            whens.append((f"not regexp_full_match({c}, {_sql_literal(pattern)})", "'number'"))
            within = _within_sql(f"try_cast({c} as double)", low, high)
            whens.append((f"not {within}", "'range'"))
        case ColumnType.TIMESTAMP:
            # Printing the parsed value back gives the same text only for an exact, real
            # timestamp (cheaper than the pattern, which then only says why one is not).
            fmt = _sql_literal(TIMESTAMP_FORMAT)
            whens.append((f"strftime(try_strptime({c}, {fmt}), {fmt}) = {c}", "null"))
            whens.append((f"not regexp_full_match({c}, '{_TIMESTAMP_SQL}')", "'timestamp'"))
            whens.append(("true", "'datetime'"))
    return "case " + " ".join(f"when {cond} then {then}" for cond, then in whens) + " end"


# Control characters have no Unicode name.
_CATEGORY = {"Cc": "(control)", "Cf": "(format)", "Zs": "(space)", "Zl": "(line)", "Zp": "(para)"}


def _char_names(value: str, bad) -> str:
    found: dict[str, int] = {}
    for position, char in enumerate(value, start=1):
        if bad(char) and char not in found:
            found[char] = position
    shown = [
        f"U+{ord(ch):04X} {unicodedata.name(ch, '') or _CATEGORY[unicodedata.category(ch)]} "
        f"at character {position}"
        for ch, position in list(found.items())[:5]
    ]
    return ", ".join(shown)


def _is_hidden(char: str) -> bool:
    category = unicodedata.category(char)
    return category in {"Cc", "Cf", "Zl", "Zp"} or (category == "Zs" and char != " ")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" and char not in "\r\n\t"


def _describe(kind: str, column: Column, value: str | None) -> tuple[str, str]:
    """(error code, problem) for a problem kind found by `_problem_sql`."""
    match kind:
        case "null":
            return "null_value", "required value is empty"
        case "id":
            why = []
            if len(value) > ID_MAX_LENGTH:
                why.append(f"{len(value)} characters, more than {ID_MAX_LENGTH}")
            if bad := _char_names(value, lambda ch: not _ID_CHAR.fullmatch(ch)):
                why.append(f"contains {bad}")
            return "bad_type", f"not an id ({ID_PATTERN}): {'; '.join(why)}"
        case "text":
            return "bad_text", f"contains {_char_names(value, _is_hidden)}"
        case "free_text":
            return "bad_text", f"contains {_char_names(value, _is_control)}"
        case "integer":
            return "bad_type", "not an integer (only digits, with an optional leading '-')"
        case "number":
            exponent = ", an exponent" if column.exponent else ""
            return "bad_type", f"not a plain number (digits, an optional '-', '.digits'{exponent})"
        case "range" if column.type == ColumnType.INTEGER and not (
            INT32_MIN <= int(value) <= INT32_MAX
        ):
            return "out_of_range", f"integer outside INT32 ({INT32_MIN}..{INT32_MAX})"
        case "range" if column.type == ColumnType.NUMERIC and not math.isfinite(float(value)):
            return "bad_type", "not a finite number"
        case "range":
            return "out_of_range", f"outside the column's domain {_bounds(column)}"
        case "timestamp":
            return "bad_type", "not a timestamp in YYYY-MM-DD HH:MM:SS"
        case "datetime":
            return "bad_type", "not a real date and time"
    raise AssertionError(kind)


def _raise_offenders(
    file_name: str, offenders: list[dict[str, object]], counts: dict[str, int], what: str
) -> None:
    total = sum(counts.values())
    first = offenders[0]
    detail = f"{first['problem']}: {first['value']}"
    if total > 1:
        per_column = ", ".join(f"{column} {n}" for column, n in counts.items())
        detail += (
            f"; {total} {what} in all ({per_column}), the first {len(offenders)} listed in "
            "the reason's offenders"
        )
    raise IngestionError(
        file_name,
        str(first["code"]),
        detail,
        row=int(first["row"]),
        column=str(first["column"]),
        offenders=offenders,
        offender_count=total,
        offender_counts=counts,
    )


def _check_values(con: duckdb.DuckDBPyConnection, table: OlistTable, file_name: str) -> None:
    problems = ", ".join(
        f"{_problem_sql(column)} as _p{i}" for i, column in enumerate(table.columns)
    )
    flags = [f"_p{i}" for i in range(len(table.columns))]
    con.execute(
        f"""
        create or replace temp table problems as
        select * from (select *, {problems} from staged)
        where coalesce({", ".join(flags)}) is not null
        """
    )
    totals = con.execute(f"select {', '.join(f'count({f})' for f in flags)} from problems")
    counts = {
        column.name: n for column, n in zip(table.columns, totals.fetchone(), strict=True) if n
    }
    if not counts:
        return
    offenders = []
    first_rows = con.execute(
        f"select * from problems order by _row limit {MAX_OFFENDERS}"
    ).fetchall()
    width = len(table.columns)
    for record in first_rows:
        row, values, kinds = record[0], record[1 : 1 + width], record[1 + width :]
        for column, value, kind in zip(table.columns, values, kinds, strict=True):
            if kind is None:
                continue
            code, problem = _describe(kind, column, value)
            offenders.append(
                {
                    "row": row,
                    "column": column.name,
                    "value": None if value is None else show_value(value),
                    "problem": problem,
                    "code": code,
                }
            )
    _raise_offenders(file_name, offenders[:MAX_OFFENDERS], counts, "bad values")


def _check_key(con: duckdb.DuckDBPyConnection, table: OlistTable, file_name: str) -> None:
    if not table.key:
        return
    key = ", ".join(_ident(c) for c in table.key)
    con.execute(
        f"""
        create or replace temp table duplicates as
        select staged._row, groups._first, {", ".join(f"staged.{_ident(c)}" for c in table.key)}
        from staged
        join (
            select {key}, min(_row) as _first from staged group by {key} having count(*) > 1
        ) as groups using ({key})
        where staged._row <> groups._first
        """
    )
    total = con.execute("select count(*) from duplicates").fetchone()[0]
    if not total:
        return
    column = ", ".join(table.key)
    offenders = []
    for row, first, *values in con.execute(
        f"select * from duplicates order by _row limit {MAX_OFFENDERS}"
    ).fetchall():
        shown = show_value(values[0]) if len(values) == 1 else repr(tuple(values))
        offenders.append(
            {
                "row": row,
                "column": column,
                "value": shown,
                "problem": f"duplicate key, first at data row {first}",
                "code": "duplicate_key",
            }
        )
    _raise_offenders(file_name, offenders, {column: total}, "repeated keys")


def _count_ignored(con: duckdb.DuckDBPyConnection, table: OlistTable) -> dict[str, int]:
    if not table.ignored_when_null:
        return {}
    counts = ", ".join(
        "count(*) filter (where " + " or ".join(f"{_ident(c)} is null" for c in columns) + ")"
        for _, columns in table.ignored_when_null
    )
    found = con.execute(f"select {counts} from staged").fetchone()
    return {reason: n for (reason, _), n in zip(table.ignored_when_null, found, strict=True)}


def validate_to_parquet(csv_path: Path, table: OlistTable, parquet_path: Path) -> ValidationResult:
    """Validate `csv_path` as `table`; on success write all-text Parquet.

    Returns the data rows and the ignored rows by reason; raises `IngestionError` otherwise.
    """
    file_name = table.file_name
    if csv_path.stat().st_size == 0:
        raise IngestionError(file_name, "empty_file", "the file is empty: no header, no rows")
    with duckdb.connect() as con:
        try:
            counts = _scan_bytes(csv_path, file_name)
            check_header(csv_path, table, file_name)
            rows = _load(con, csv_path, table, file_name)
            _check_values(con, table, file_name)
            _check_every_line_parsed(con, table, file_name, rows, counts)
            _check_key(con, table, file_name)
            ignored = _count_ignored(con, table)
        except IngestionError:
            raise
        except (csv.Error, UnicodeError, ValueError, duckdb.Error) as error:
            raise IngestionError(
                file_name, "unreadable", f"{type(error).__name__}: {str(error).strip()}"
            ) from None
        # Writing is outside the net above: a full disk is not the file's fault.
        columns = ", ".join(_ident(c) for c in table.header)
        parquet_path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy (select {columns} from staged order by _row) "
            f"to {_sql_literal(str(parquet_path))} (format parquet, compression zstd)"
        )
    return ValidationResult(rows, ignored)

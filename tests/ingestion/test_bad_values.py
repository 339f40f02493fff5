"""Bad input, one case per class: each is refused with the file, row, column and value shown.

Every case corrupts one field of one row of the tiny valid batch (tests/ingestion/conftest.py),
so the expected row, column and value are the ones written here. Rejections go through
`stage_table`, as the ingestion DAG runs it, and must leave a quarantined file whose
reason.json carries the offenders; nothing is staged for the table.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from include.olist_risk.ingestion import validate
from include.olist_risk.ingestion.batch import discover_batch, stage_table
from include.olist_risk.ingestion.validate import (
    MAX_OFFENDERS,
    IngestionError,
    validate_to_parquet,
)
from include.olist_risk.lake.layout import staged_table_key
from include.olist_risk.lake.storage import LocalLake, read_json
from include.olist_risk.olist.tables import TABLES
from tests.ingestion.conftest import ROWS, write_batch


def _csv(table: str, rows: list[str], *, newline: str = "\n") -> bytes:
    header = ",".join(f'"{name}"' for name in TABLES[table].header)
    return (newline.join([header, *rows]) + newline).encode()


def _with_field(table: str, row: int, old: str, new: str) -> bytes:
    """The tiny batch's `table` with `old` replaced by `new` in data row `row` only."""
    rows = list(ROWS[table])
    assert old in rows[row - 1], (table, row, old)
    rows[row - 1] = rows[row - 1].replace(old, new, 1)
    return _csv(table, rows)


def _stage_bad(tmp_path: Path, table: str, data: bytes) -> tuple[IngestionError, dict, LocalLake]:
    """Land the batch with `table`'s file replaced, stage it; return the error and reason."""
    landing = write_batch(tmp_path / "landing", {TABLES[table].file_name: data})
    lake = LocalLake(tmp_path / "lake")
    batch = discover_batch(LocalLake(landing), lake)

    with pytest.raises(IngestionError) as caught:
        stage_table(LocalLake(landing), lake, batch, table)

    reasons = [key for key in lake.list("quarantine") if key.endswith(".reason.json")]
    assert reasons == [f"quarantine/{batch.batch_id}/{TABLES[table].file_name}.reason.json"]
    assert lake.read_bytes(reasons[0].removesuffix(".reason.json")) == data
    assert not lake.exists(staged_table_key(batch.batch_id, table))
    return caught.value, read_json(lake, reasons[0]), lake


# (table, data row, old text, new text, error code, column, the value as the reason shows it)
BAD_VALUES = [
    # Keys with invisible, control or stray characters: rows would be orphaned silently.
    ("orders", 2, "o2,c2,", "o2,\ufeffc2,", "bad_type", "customer_id", r"'\ufeffc2'"),
    ("customers", 3, "c3,u2,", "c3,u\u200b2,", "bad_type", "customer_unique_id", r"'u\u200b2'"),
    ("order_items", 3, "o2,2,p1,", "o2,2,p1\u00a0,", "bad_type", "product_id", r"'p1\xa0'"),
    ("orders", 3, "o3,c3,", 'o3,c3",', "bad_type", "customer_id", "'c3\"'"),
    ("customers", 2, "c2,u1,", "c2, ,", "bad_type", "customer_unique_id", "' '"),
    ("customers", 3, ",SP", ",S\u00a0P", "bad_text", "customer_state", r"'S\xa0P'"),
    (
        "products",
        2,
        "perfumaria",
        "perfumaria\u2060",
        "bad_text",
        "product_category_name",
        r"'perfumaria\u2060'",
    ),
    ("order_reviews", 2, "1,,,", "1,Ruim\x07,,", "bad_text", "review_comment_title", r"'Ruim\x07'"),
    # Integers that are not exactly an integer, or outside INT32 or the column's domain.
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,4.5,", "bad_type", "review_score", "'4.5'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,0x5,", "bad_type", "review_score", "'0x5'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,1e0,", "bad_type", "review_score", "'1e0'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,+5,", "bad_type", "review_score", "'+5'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2, 5,", "bad_type", "review_score", "' 5'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,0,", "out_of_range", "review_score", "'0'"),
    ("order_reviews", 2, "r2,o2,1,", "r2,o2,6,", "out_of_range", "review_score", "'6'"),
    (
        "order_items",
        1,
        "o1,1,p1",
        "o1,99999999999,p1",
        "out_of_range",
        "order_item_id",
        "'99999999999'",
    ),
    ("order_items", 1, "o1,1,p1", "o1,0,p1", "out_of_range", "order_item_id", "'0'"),
    (
        "order_payments",
        1,
        "credit_card,3,",
        "credit_card,2147483648,",
        "out_of_range",
        "payment_installments",
        "'2147483648'",
    ),
    # Numbers: finite plain decimals within the column's domain.
    ("order_items", 1, ",59.90,", ",-59.90,", "out_of_range", "price", "'-59.90'"),
    ("order_payments", 1, ",70.40", ",NaN", "bad_type", "payment_value", "'NaN'"),
    ("order_payments", 2, ",150.00", ",inf", "bad_type", "payment_value", "'inf'"),
    ("order_payments", 3, ",55.40", ",-inf", "bad_type", "payment_value", "'-inf'"),
    ("order_items", 2, ",120.00,", ",1e3,", "bad_type", "price", "'1e3'"),
    ("geolocation", 1, "-23.5456", "-93.5", "out_of_range", "geolocation_lat", "'-93.5'"),
    # Coordinates may carry an exponent (float repr), but not one that overflows a double.
    ("geolocation", 2, "-22.9083", "-2e999", "bad_type", "geolocation_lat", "'-2e999'"),
    # Timestamps: exactly YYYY-MM-DD HH:MM:SS, and a real date and time.
    (
        "orders",
        1,
        "2017-01-05 10:00:00,",
        "2017-01-05T10:00:00,",
        "bad_type",
        "order_purchase_timestamp",
        "'2017-01-05T10:00:00'",
    ),
    (
        "orders",
        3,
        "2017-03-22 00:00:00",
        "2017-03-22",
        "bad_type",
        "order_estimated_delivery_date",
        "'2017-03-22'",
    ),
    (
        "orders",
        2,
        "2017-02-06 11:00:00",
        "2018-02-30 11:00:00",
        "bad_type",
        "order_purchase_timestamp",
        "'2018-02-30 11:00:00'",
    ),
]


@pytest.mark.parametrize(
    ("table", "row", "old", "new", "code", "column", "shown"),
    BAD_VALUES,
    ids=[f"{case[0]}-{case[5]}-{case[3]!r}" for case in BAD_VALUES],
)
def test_bad_value_is_quarantined_with_row_column_and_visible_value(
    tmp_path: Path, table: str, row: int, old: str, new: str, code: str, column: str, shown: str
) -> None:
    error, reason, _ = _stage_bad(tmp_path, table, _with_field(table, row, old, new))

    file_name = TABLES[table].file_name
    assert (error.code, error.row, error.column) == (code, row, column)
    assert str(error).startswith(f"{file_name}, data row {row}, column '{column}': [{code}]")
    assert shown in str(error)
    assert (reason["code"], reason["row"], reason["column"]) == (code, row, column)
    assert reason["file_name"] == file_name and reason["table"] == table
    assert reason["offender_count"] == 1
    assert reason["offender_counts"] == {column: 1}
    [offender] = reason["offenders"]
    assert {k: offender[k] for k in ("row", "column", "value", "code")} == {
        "row": row,
        "column": column,
        "value": shown,
        "code": code,
    }
    assert offender["problem"]


def test_many_offenders_are_all_counted_and_the_first_ones_listed(tmp_path: Path) -> None:
    rows, expected = [], []
    for i in range(1, 26):
        value = "-1.00" if i % 2 == 0 else "10.00"
        rows.append(f"o{i},1,credit_card,x,{value}")
        expected.append((i, "payment_installments", "'x'"))
        if i % 2 == 0:
            expected.append((i, "payment_value", "'-1.00'"))
    assert len(expected) == 25 + 12

    error, reason, _ = _stage_bad(tmp_path, "order_payments", _csv("order_payments", rows))

    assert (error.row, error.column) == (1, "payment_installments")
    assert "37" in str(error)
    assert reason["offender_count"] == 37
    assert reason["offender_counts"] == {"payment_installments": 25, "payment_value": 12}
    listed = [(o["row"], o["column"], o["value"]) for o in reason["offenders"]]
    assert listed == expected[:MAX_OFFENDERS]


def test_every_repeated_key_is_counted(tmp_path: Path) -> None:
    rows = [*ROWS["sellers"], 's1,"01037",sao paulo,SP', 's2,"01037",sao paulo,SP']
    rows += ['s1,"20031",rio de janeiro,RJ', 's2,"20031",rio de janeiro,RJ']

    error, reason, _ = _stage_bad(tmp_path, "sellers", _csv("sellers", rows))

    assert (error.code, error.row, error.column) == ("duplicate_key", 2, "seller_id")
    assert reason["offender_count"] == 3  # s1 (row 1) again at rows 2 and 4, s2 (row 3) at 5
    listed = [(o["row"], o["value"]) for o in reason["offenders"]]
    assert listed == [(2, "'s1'"), (4, "'s1'"), (5, "'s2'")]
    assert reason["offender_counts"] == {"seller_id": 3}


def _oversized_review() -> bytes:
    rows = list(ROWS["order_reviews"])
    rows[1] = "r2,o2,1,," + "x" * 2_100_000 + ",2017-02-20 00:00:00,2017-02-21 08:00:00"
    return _csv("order_reviews", rows)


def _unterminated_quote_at_end() -> bytes:
    # Opened in data row 2 and never closed: the parser would take rows 2 and 3 as one value.
    return _with_field("orders", 2, "o2,c2,delivered,", 'o2,c2,"delivered,')


STRUCTURE = {
    "cr_only_line_endings": (
        "orders",
        lambda: _csv("orders", ROWS["orders"], newline="\r"),
        "line_endings",
        None,
        ["CR-only line endings", "re-export with LF or CRLF"],
    ),
    # DuckDB's whole message (what, where, how to fix), not its first line.
    "oversized_field": (
        "order_reviews",
        _oversized_review,
        "malformed_csv",
        None,
        ["CSV Error on Line", "Maximum line size of", "exceeded", "Possible Solution"],
    ),
    "quote_closed_too_early": (
        "orders",
        lambda: _with_field("orders", 2, "o2,c2,", '"o2"x,c2,'),
        "malformed_csv",
        None,
        ["CSV Error on Line", "Value with unterminated quote found", "Possible fixes"],
    ),
    "quote_never_closed": (
        "orders",
        _unterminated_quote_at_end,
        "unterminated_quote",
        2,
        ["never closed"],
    ),
    # DuckDB skips it silently; the file is not what was meant to be exported.
    "blank_line": (
        "orders",
        lambda: _csv("orders", [ROWS["orders"][0], "", *ROWS["orders"][1:]]),
        "malformed_csv",
        None,
        ["1 line(s) of the file belong to no parsed row"],
    ),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE))
def test_broken_csv_is_quarantined_with_the_parsers_whole_reason(tmp_path: Path, case: str):
    table, make, code, row, phrases = STRUCTURE[case]

    error, reason, _ = _stage_bad(tmp_path, table, make())

    assert (error.code, error.row) == (code, row)
    assert (reason["code"], reason["row"]) == (code, row)
    for phrase in phrases:
        assert phrase in reason["detail"] and phrase in reason["message"]


# Values that look odd but are exactly their type: they pass and are kept as written.
GOOD_VALUES = [
    # Python's and pandas' float repr (the generator's coordinates) switch to an exponent.
    ("geolocation", 1, "-23.5456", "-9.422022423685728e-05", "geolocation_lat"),
    ("order_payments", 1, ",70.40", ",0", "payment_value"),
    ("order_payments", 1, "credit_card,3,", "credit_card,0,", "payment_installments"),
    ("order_items", 1, "o1,1,p1", "o1,2147483647,p1", "order_item_id"),
    ("orders", 1, "2017-01-05 10:00:00,", "2016-02-29 23:59:59,", "order_purchase_timestamp"),
    ("customers", 1, "sao paulo", "são paulo", "customer_city"),
    ("customers", 1, ",SP", ", SP ", "customer_state"),
    ("order_reviews", 2, "1,,,", '1,,"ótimo 👍\r\nrecomendo",', "review_comment_message"),
    # People type tabs; only other control characters are damage in free text.
    ("order_reviews", 2, "1,,,", '1,"a\tb",,', "review_comment_title"),
]
STORED = [
    "-9.422022423685728e-05",
    "0",
    "0",
    "2147483647",
    "2016-02-29 23:59:59",
    "são paulo",
    " SP ",
    "ótimo 👍\r\nrecomendo",
    "a\tb",
]


@pytest.mark.parametrize(
    ("table", "row", "old", "new", "column", "stored"),
    [(*case, stored) for case, stored in zip(GOOD_VALUES, STORED, strict=True)],
)
def test_exact_values_pass_unchanged(
    tmp_path: Path, table: str, row: int, old: str, new: str, column: str, stored: str
) -> None:
    csv_path = tmp_path / TABLES[table].file_name
    csv_path.write_bytes(_with_field(table, row, old, new))

    result = validate_to_parquet(csv_path, TABLES[table], tmp_path / "out.parquet")

    assert result.rows == len(ROWS[table])
    values = duckdb.sql(f"select \"{column}\" from '{tmp_path / 'out.parquet'}'").fetchall()
    assert values[row - 1][0] == stored


# FEATURES.md section 1: such orders (and reviews) are ignored, not a reason to refuse a file.
IGNORED = [
    ("customers", 3, "c3,u2,", "c3,,", "customers without customer_unique_id"),
    (
        "orders",
        3,
        "o3,c3,canceled,2017-03-04 09:00:00,",
        "o3,c3,canceled,,",
        "orders without order_purchase_timestamp",
    ),
    (
        "order_reviews",
        2,
        "r2,o2,1,",
        "r2,o2,,",
        "reviews without review_score or review_answer_timestamp",
    ),
]


@pytest.mark.parametrize(("table", "row", "old", "new", "reason"), IGNORED)
def test_rows_the_spec_ignores_are_kept_and_counted(
    tmp_path: Path, table: str, row: int, old: str, new: str, reason: str
) -> None:
    landing = write_batch(
        tmp_path / "landing", {TABLES[table].file_name: _with_field(table, row, old, new)}
    )
    lake = LocalLake(tmp_path / "lake")
    batch = discover_batch(LocalLake(landing), lake)

    part = stage_table(LocalLake(landing), lake, batch, table)

    assert part["rows"] == len(ROWS[table])
    assert part["ignored_rows"] == {reason: 1}
    assert read_json(lake, staged_table_key(batch.batch_id, table))["ignored_rows"] == {reason: 1}
    assert lake.list("quarantine") == []


def test_an_unexpected_parser_error_is_a_reason_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parser_bug(*args) -> None:
        raise duckdb.ConversionException("Conversion Error: something DuckDB never said before")

    monkeypatch.setattr(validate, "_check_values", parser_bug)

    error, reason, _ = _stage_bad(tmp_path, "sellers", _csv("sellers", ROWS["sellers"]))

    assert error.code == reason["code"] == "unreadable"
    assert (
        "ConversionException: Conversion Error: something DuckDB never said before"
        in (reason["message"])
    )

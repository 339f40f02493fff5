"""In-task DuckDB connections are bounded like dbt's: a memory limit, and spilling into a
directory of each connection's own that is gone once the connection closes."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.olist_risk.lake.duckdb_engine import connect


def test_a_sort_larger_than_the_memory_limit_spills_into_its_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLIST_DUCKDB_SPILL_ROOT", str(tmp_path))
    monkeypatch.setenv("OLIST_DUCKDB_MEMORY_LIMIT", "64MB")
    first, second = connect(), connect()
    with first, second:
        limit, spill = first.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert limit == "61.0 MiB"  # 64 MB in DuckDB's binary units
        assert Path(spill).parent == tmp_path
        assert spill != second.execute("select current_setting('temp_directory')").fetchone()[0]
        # about 200 MB of rows to sort: more than the limit allows in memory
        first.execute("create table t as select md5(range::varchar) as s from range(3000000)")
        assert first.execute("select count(*) from (select s from t order by s)").fetchone() == (
            3000000,
        )
        assert [path.name for path in tmp_path.iterdir()] == [Path(spill).name]
    assert list(tmp_path.iterdir()) == []


def test_the_memory_limit_defaults_to_dbts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLIST_DUCKDB_MEMORY_LIMIT", raising=False)
    with connect() as con:
        # 2GB, the dbt profile's default, in DuckDB's binary units
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("1.8 GiB",)

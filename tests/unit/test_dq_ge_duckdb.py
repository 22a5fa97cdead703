"""The GE-on-DuckDB fix (expectations/ge_duckdb.py): without it every expectation fails."""

from __future__ import annotations

import duckdb
import great_expectations as gx
import pytest

from expectations.ge_duckdb import DuckDBExecutionEngine, add_duckdb_datasource, close_datasource

N = 200_000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("ge") / "w.duckdb"
    con = duckdb.connect(str(db))
    # v = i % 1000; values above 990 are "implausible": 9 of every 1000 rows = 1800 rows.
    con.execute(
        "create schema s; create table s.t as select 'r' || i as record_id, "
        "(i % 1000)::double as v from range(?) r(i)",
        [N],
    )
    con.close()
    return db


def _validate(ds):
    asset = ds.add_table_asset(name="t", table_name="t", schema_name="s")
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    return batch.validate(
        gx.expectations.ExpectColumnValuesToBeBetween(column="v", min_value=0, max_value=990),
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["record_id"]},
    )


def test_plain_ge_sql_datasource_fails_on_duckdb(big_db):
    """The bug the fix exists for: GE's stock engine loses the rows (IndexError)."""
    context = gx.get_context(mode="ephemeral")
    ds = context.data_sources.add_sql(name="plain", connection_string=f"duckdb:///{big_db}")
    result = _validate(ds)
    assert result.success is False
    messages = " ".join(str(v.get("exception_message")) for v in result.exception_info.values())
    assert "list index out of range" in messages
    close_datasource(ds)


def test_fixed_datasource_validates_every_row_in_database(big_db):
    context = gx.get_context(mode="ephemeral")
    ds = add_duckdb_datasource(context, "fixed", big_db)
    result = _validate(ds)
    assert isinstance(ds.get_execution_engine(), DuckDBExecutionEngine)
    assert not result.exception_info.get("raised_exception"), result.exception_info
    assert result.result["element_count"] == N
    assert result.result["unexpected_count"] == N // 1000 * 9
    assert result.success is False
    ids = [row["record_id"] for row in result.result["partial_unexpected_index_list"]]
    assert all(int(i[1:]) % 1000 > 990 for i in ids)
    close_datasource(ds)
    # every connection is closed: the file reopens read-write in this process
    duckdb.connect(str(big_db)).close()

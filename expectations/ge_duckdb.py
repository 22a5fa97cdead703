"""Great Expectations 1.x on DuckDB: the two fixes GE's SQL datasource needs, applied in one place.

GE validates SQL tables in-database through SQLAlchemy. With duckdb-engine 0.17 and SQLAlchemy 2.1
two things break, and every expectation fails:

1. ``SqlAlchemyExecutionEngine.execute_query`` executes inside ``with self.get_connection()`` and
   returns the cursor result *after* the connection went back to the pool; duckdb-engine's cursor
   has lost its rows by then, and GE's metric bundle fails with ``IndexError: list index out of
   range``. :class:`DuckDBExecutionEngine` materialises the rows (``Result.freeze()``) before the
   connection is released. Only the (small) metric rows are fetched: the aggregates run in DuckDB
   over every row of the table, nothing is loaded into memory.
2. Column reflection: duckdb-engine inherits PostgreSQL's ``get_columns``, whose SQLAlchemy 2.1
   query joins ``pg_catalog.pg_collation`` (absent in DuckDB), and GE's fallback then drops the
   schema name. :class:`DuckDBExecutionEngine` hands GE an inspector whose ``get_columns`` reads
   ``information_schema.columns``.

:class:`DuckDBDatasource` is GE's own ``SQLDatasource`` with the engine swapped through GE's
``execution_engine_override`` hook; nothing in GE is monkey-patched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine

# DuckDB type name (information_schema.columns.data_type) -> SQLAlchemy type.
_TYPES: dict[str, Any] = {
    "VARCHAR": sa.String,
    "BOOLEAN": sa.Boolean,
    "DATE": sa.Date,
    "TIMESTAMP": sa.DateTime,
    "TIMESTAMP WITH TIME ZONE": sa.DateTime,
    "DOUBLE": sa.Float,
    "FLOAT": sa.Float,
    "BIGINT": sa.BigInteger,
    "INTEGER": sa.Integer,
    "SMALLINT": sa.SmallInteger,
    "TINYINT": sa.SmallInteger,
    "HUGEINT": sa.BigInteger,
    "UBIGINT": sa.BigInteger,
    "UINTEGER": sa.BigInteger,
    "TIME": sa.Time,
    "BLOB": sa.LargeBinary,
}


def _sa_type(duckdb_type: str) -> Any:
    base = duckdb_type.upper().split("(")[0].strip()
    if base.startswith("DECIMAL"):
        return sa.Numeric()
    return _TYPES.get(base, sa.String)()


class _DuckDBInspector:
    """The SQLAlchemy inspector, with ``get_columns`` answered from ``information_schema``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._inner = sa.inspect(engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_columns(self, table_name: str, schema: str | None = None, **kw: Any) -> list[dict]:
        sql = sa.text(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_name = :t and table_schema = coalesce(:s, current_schema()) "
            "order by ordinal_position"
        )
        with self._engine.connect() as conn:
            rows = conn.execute(sql, {"t": str(table_name), "s": schema}).fetchall()
        if not rows:
            raise sa.exc.NoSuchTableError(f"{schema}.{table_name}" if schema else str(table_name))
        return [
            {"name": name, "type": _sa_type(dtype), "nullable": nullable == "YES", "default": None}
            for name, dtype, nullable in rows
        ]

    def get_pk_constraint(self, table_name: str, schema: str | None = None, **kw: Any) -> dict:
        return {"constrained_columns": [], "name": None}


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """GE's SQLAlchemy engine with results materialised before the pooled connection is released."""

    def execute_query(self, query: Any) -> Any:  # noqa: D102 - see the module docstring
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            if result.returns_rows:
                # FrozenResult holds the fetched rows; calling it gives a fresh Result over them.
                return result.freeze()()
        return result

    def get_inspector(self) -> Any:  # noqa: D102 - see the module docstring
        if self._inspector is None:
            self._inspector = _DuckDBInspector(self.engine)
        return self._inspector


class DuckDBDatasource(SQLDatasource):
    """A GE SQL datasource on a DuckDB file, using :class:`DuckDBExecutionEngine`."""

    type: Literal["ildwh_duckdb"] = "ildwh_duckdb"  # type: ignore[assignment]
    execution_engine_override = DuckDBExecutionEngine  # type: ignore[assignment]


def add_duckdb_datasource(
    context: Any, name: str, db_path: Path, read_only: bool = False
) -> DuckDBDatasource:
    """Register the DuckDB file ``db_path`` as datasource ``name`` in a GE context.

    ``read_only`` opens the file read only. DuckDB refuses a second connection to a file that is
    already open in this process with another configuration, so keep the default unless every
    other connection to the file is read only too.
    """
    return context.data_sources.add_ildwh_duckdb(
        name=name,
        connection_string=f"duckdb:///{Path(db_path).resolve()}",
        kwargs={"connect_args": {"read_only": read_only}},
    )


def close_datasource(datasource: SQLDatasource) -> None:
    """Close every DuckDB connection GE opened for ``datasource`` (so the file can be reopened
    with another configuration, e.g. read-write to store the results)."""
    engine = datasource.execution_engine
    if engine is not None:
        engine.close()
        engine.engine.dispose()
    sa_engine = getattr(datasource, "_engine", None)
    if sa_engine is not None:
        sa_engine.dispose()

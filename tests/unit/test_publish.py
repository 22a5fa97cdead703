"""Publication is atomic and never lets an identifier through."""

from __future__ import annotations

import duckdb
import pytest

from ildwh import IldwhError, runs
from ildwh import publish as pub


def _build_db(path, *, with_mrn=False, n=3):
    con = duckdb.connect(str(path))
    con.execute(
        "create schema marts; create schema results; create schema dq; create schema staging"
    )
    extra = ", 'M123' as mrn" if with_mrn else ""
    con.execute(
        f"create table marts.cohort as select 'k' || i as person_key, 'analysed' as "
        f"exit_reason{extra} from range({n}) t(i)"
    )
    con.execute("create table results.roc as select 'ldh' as analysis, 0.8 as ours")
    con.execute("create table dq.results as select 'RUN' as run_id, 'x' as check_name")
    con.execute(
        "create view staging.stg_loader__reconciliation as select 'd1' as drop_id, 5 as rows_read"
    )
    con.close()


def _restricted(path):
    runs.start_run(path, "r1")
    runs.finish_run(path, "r1", "published", data_freshness="2023-01-15")


def test_build_and_publish_is_complete_and_atomic(tmp_path):
    build, restricted = tmp_path / "build.duckdb", tmp_path / "restricted.duckdb"
    final = tmp_path / "analytics.duckdb"
    _build_db(build)
    _restricted(restricted)
    final.write_bytes(b"old")
    tmp = tmp_path / ".analytics.tmp"
    n = pub.build_analytics(build, restricted, None, tmp, "r1")
    # marts.cohort, results.roc, dq.results, dq.load_reconciliation, ops.runs,
    # history.marts__cohort, history.results__roc
    assert n == 7
    pub.publish_file(tmp, final)
    assert not tmp.exists()
    con = duckdb.connect(str(final), read_only=True)
    assert con.execute("select count(*) from marts.cohort").fetchone()[0] == 3
    assert con.execute("select status from ops.runs").fetchone()[0] == "published"
    assert con.execute("select rows_read from dq.load_reconciliation").fetchone()[0] == 5
    assert con.execute("select count(*) from history.marts__cohort").fetchone()[0] == 3
    con.close()
    assert oct(final.stat().st_mode & 0o777) == "0o600"


def test_history_keeps_last_n_runs(tmp_path):
    build, restricted = tmp_path / "build.duckdb", tmp_path / "restricted.duckdb"
    _build_db(build)
    _restricted(restricted)
    prev = None
    for i in range(4):
        out = tmp_path / f"a{i}.duckdb"
        pub.build_analytics(build, restricted, prev, out, f"r{i}", keep_runs=2)
        prev = out
    con = duckdb.connect(str(prev), read_only=True)
    kept = con.execute(
        "select distinct snapshot_run_id from history.marts__cohort order by 1"
    ).fetchall()
    assert [k[0] for k in kept] == ["r2", "r3"]


def test_identifier_column_is_refused(tmp_path):
    build, restricted = tmp_path / "build.duckdb", tmp_path / "restricted.duckdb"
    _build_db(build, with_mrn=True)
    _restricted(restricted)
    with pytest.raises(IldwhError, match=r"marts\.cohort\.mrn"):
        pub.build_analytics(build, restricted, None, tmp_path / "x.duckdb", "r1")


def test_killed_run_is_marked_abandoned(tmp_path):
    db = tmp_path / "r.duckdb"
    runs.start_run(db, "a")
    runs.start_run(db, "b")  # "a" never finished: the process died
    h = {r["run_id"]: r for r in runs.history(db)}
    assert h["a"]["status"] == "abandoned"
    assert h["b"]["status"] == "running"

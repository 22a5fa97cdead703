"""The Prefect flow `load_raw_flow` run for real (temporary Prefect API, real DuckDB file)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from flows.load_raw import load_one, load_raw_flow
from ildwh import IldwhError
from ildwh.load import LoadReport
from ildwh.load.testing import csv_text, write_drop


def _patients(n: int, start: int = 1) -> str:
    rows = [
        {"record_id": f"P{i}", "mrn": f"M{i}", "name": "x", "sex": "F", "birth_date": "1970-01-01",
         "updated_at": "2023-01-10 08:00", "is_deleted": "0"}
        for i in range(start, start + n)
    ]  # fmt: skip
    return csv_text("patients", rows)


def _run_count(task_run_id) -> tuple[str, int]:
    with get_client(sync_client=True) as client:
        run = client.read_task_run(task_run_id)
        return run.state.type.value, run.run_count


def test_flow_loads_new_drops_then_says_nothing_new(prefect_harness, tmp_path):
    root, db = tmp_path / "extracts", tmp_path / "w" / "restricted.duckdb"
    write_drop(root, "2023-01-01", {"patients": _patients(3)})
    write_drop(root, "2023-02-01", {"patients": _patients(2, 10) + "P10,M10\n"}, kind="delta")

    report = load_raw_flow(str(root), str(db))

    assert isinstance(report, LoadReport)
    assert report.drops_loaded == ["2023-01-01", "2023-02-01"]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 5, 1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.patients").fetchone()[0] == 5
    assert con.execute("select line, reason from raw.quarantine").fetchall() == [
        (4, "malformed_row")
    ]
    con.close()
    again = load_raw_flow(str(root), str(db))
    assert again.summary_text() == "nothing new: 2 drop(s) already loaded, none to load"


def test_flow_refuses_bad_drop_without_retry_and_holds_later_drops(prefect_harness, tmp_path):
    root, db = tmp_path / "extracts", tmp_path / "restricted.duckdb"
    write_drop(root, "2023-01-01", {"patients": _patients(3)})
    write_drop(root, "2023-02-01", {"patients": _patients(2, 10)}, rows={"patients": 3})
    write_drop(root, "2023-03-01", {"patients": _patients(2, 20)})

    with pytest.raises(IldwhError, match="row count mismatch") as info:
        load_raw_flow(str(root), str(db))
    assert "not loaded in this run because drops load in order: 2023-03-01" in str(info.value)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select drop_id from raw.drops").fetchall() == [("2023-01-01",)]
    con.close()

    @flow
    def one_drop():
        return load_one.with_options(retry_delay_seconds=0)(
            str(root / "2023-02-01"), str(db), False, [], return_state=True
        ).state_details.task_run_id

    assert _run_count(one_drop()) == ("FAILED", 1)  # a refused drop is not retried


def test_flow_task_retries_io_errors(prefect_harness, tmp_path):
    root = tmp_path / "extracts"
    write_drop(root, "2023-01-01", {"patients": _patients(1)})
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the warehouse folder should be")
    db = blocker / "restricted.duckdb"  # mkdir fails: an OSError

    @flow
    def one_drop():
        return load_one.with_options(retry_delay_seconds=0)(
            str(root / "2023-01-01"), str(db), False, [], return_state=True
        ).state_details.task_run_id

    assert _run_count(one_drop()) == ("FAILED", 4)  # 1 try + 3 retries
    assert not Path(db).exists()

"""The data-quality gate on a small real warehouse: pass, fail, not_applicable, history, CLI."""

from __future__ import annotations

import json

import duckdb
import pytest

from expectations.checkpoint import run_checkpoint, run_checkpoint_cli
from expectations.testing import N_ANALYSED, N_LABS, build_warehouse
from ildwh.config import Paths


def _by_name(outcome):
    return {r["check_name"]: r for r in outcome.results}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    db = build_warehouse(d / "build.duckdb")
    return db, run_checkpoint(db, "r1", d / "reports", data_docs=True)


def test_clean_warehouse_passes_with_no_error(clean_run):
    db, out = clean_run
    assert out.ok is True
    assert out.counts["error"].get("failed", 0) == 0
    res = _by_name(out)
    ldh = res["labs.LDH.limits"]
    assert ldh["status"] == "passed" and ldh["n_failed"] == 0
    assert ldh["category"] == "plausibility" and ldh["severity"] == "error"
    assert ldh["threshold"] == 0.01
    # the row condition restricts the check to LDH rows; all lab rows are covered by 17 analytes
    assert (
        sum(r["n_rows"] for r in out.results if r["check_id"] == "plausibility.lab_value") == N_LABS
    )
    assert res["baseline.ldh_u_per_l.present"]["n_rows"] == N_ANALYSED
    assert res["reconciliation.balanced"]["status"] == "passed"


def test_results_are_stored_in_dq_results(clean_run):
    db, out = clean_run
    con = duckdb.connect(str(db), read_only=True)
    n, runs = con.execute("select count(*), count(distinct run_id) from dq.results").fetchone()
    cols = [c[0] for c in con.execute("describe dq.results").fetchall()]
    con.close()
    assert (n, runs) == (len(out.results), 1)
    for col in (
        "run_id",
        "checked_at",
        "suite",
        "category",
        "severity",
        "table_name",
        "column_name",
        "expectation_type",
        "description",
        "status",
        "n_rows",
        "n_failed",
        "failed_share",
        "threshold",
        "examples",
    ):
        assert col in cols


def test_zero_rows_is_not_applicable_not_passed(clean_run):
    _, out = clean_run
    r = _by_name(out)["vital_status.death_after_birth"]  # no death dates in the clean data
    assert (r["status"], r["n_rows"], r["failed_share"]) == ("not_applicable", 0, None)
    assert out.counts["error"]["not_applicable"] >= 1


def test_info_flags_report_share_above_reference_range(clean_run):
    db, out = clean_run
    con = duckdb.connect(str(db), read_only=True)
    above, total = con.execute(
        "select count(*) filter (where ldh_u_per_l > 211), count(ldh_u_per_l) from marts.baseline"
    ).fetchone()
    con.close()
    r = _by_name(out)["baseline.ldh_u_per_l.above_uln"]
    assert (r["severity"], r["status"], r["n_failed"], r["n_rows"]) == (
        "info",
        "passed",
        above,
        total,
    )
    assert 0 < above < total


def test_summary_and_data_docs_written(clean_run):
    _, out = clean_run
    html = out.summary_path.read_text()
    assert "The study figures can be trusted" in html
    assert "future_date" in html  # the loader's quarantine, per reason
    assert out.data_docs_path is not None and out.data_docs_path.exists()
    assert '<script src="http' not in html  # self-contained


def test_implausible_values_above_threshold_fail_the_gate(tmp_path):
    db = build_warehouse(tmp_path / "build.duckdb")
    con = duckdb.connect(str(db))
    n_ldh = con.execute(
        "select count(*) from staging.stg_ehr__lab_results where analyte = 'LDH'"
    ).fetchone()[0]
    # 3 LDH values in mmol-like units (a unit slip): 3 / n_ldh > the 1% allowed
    con.execute(
        "update staging.stg_ehr__lab_results set value_numeric = 4.2 where record_id in "
        "(select record_id from staging.stg_ehr__lab_results where analyte = 'LDH' "
        "order by record_id limit 3)"
    )
    bad_ids = [
        r[0]
        for r in con.execute(
            "select record_id from staging.stg_ehr__lab_results "
            "where value_numeric = 4.2 order by 1"
        ).fetchall()
    ]
    con.close()
    out = run_checkpoint(db, "r-bad", tmp_path / "reports", data_docs=False)
    r = _by_name(out)["labs.LDH.limits"]
    assert (r["status"], r["n_failed"], r["n_rows"]) == ("failed", 3, n_ldh)
    assert r["failed_share"] == pytest.approx(3 / n_ldh)
    assert sorted(json.loads(r["examples"])) == bad_ids
    assert out.ok is False
    assert [f["check_name"] for f in out.failed_errors] == ["labs.LDH.limits"]
    assert "Publication stopped" in out.summary_path.read_text()

    # the CLI (`ildwh dq`) exits 1 on the same warehouse, 0 on a clean one
    paths = Paths.at(tmp_path / "home").ensure()
    assert run_checkpoint_cli(paths, db=str(db)) == 1
    clean = build_warehouse(tmp_path / "clean.duckdb")
    assert run_checkpoint_cli(paths, db=str(clean)) == 0


def test_one_implausible_value_within_threshold_warns_nothing_but_is_counted(tmp_path):
    db = build_warehouse(tmp_path / "build.duckdb")
    con = duckdb.connect(str(db))
    con.execute(
        "update staging.stg_ehr__lab_results set value_numeric = 9000 "
        "where record_id = (select min(record_id) from staging.stg_ehr__lab_results "
        "where analyte = 'HB')"
    )
    con.close()
    out = run_checkpoint(db, "r", tmp_path / "reports", data_docs=False)
    r = _by_name(out)["labs.HB.limits"]
    assert r["n_rows"] > 100  # 1 of >100 rows is within the 1% allowed
    assert (r["status"], r["n_failed"], json.loads(r["examples"])) == ("passed", 1, ["L000010"])
    assert out.ok is True


def test_previous_run_bounds_and_change_since_last_run(tmp_path):
    prev = build_warehouse(tmp_path / "analytics.duckdb")
    first = run_checkpoint(prev, "r1", tmp_path / "rep1", data_docs=False)
    assert first.ok
    db = build_warehouse(tmp_path / "build.duckdb")
    con = duckdb.connect(str(db))
    # the screened count halves (a lost table?) and a unit slip appears in labs
    con.execute("update marts.attrition set n_remaining = 191 where step = 'screened'")
    con.execute(
        "update staging.stg_ehr__lab_results set value_status = 'unit_not_convertible', "
        "value_numeric = null where record_id in ('L000001', 'L000002')"
    )
    con.close()
    out = run_checkpoint(
        db, "r2", tmp_path / "rep2", previous_db=prev, history_db=prev, data_docs=False
    )
    res = _by_name(out)
    scr = res["attrition.screened.vs_previous"]
    assert (scr["status"], scr["n_failed"], scr["severity"]) == ("failed", 1, "error")
    assert res["attrition.ADM-NSIP.vs_previous"]["status"] == "passed"
    assert res["attrition.group_shares"]["status"] == "passed"
    unit = res["labs.unit_not_convertible"]
    assert (unit["n_failed"], unit["previous_n_failed"]) == (2, 0)
    assert out.ok is False
    html = out.summary_path.read_text()
    assert "compared with run <code>r1</code>" in html and "+2" in html

"""End to end: every planted defect of the generator is caught by an expectation or the quarantine.

generate (scale 1) -> load_extracts -> dbt_build -> run_checkpoint, then, per defect kind in
`_truth/defects.csv`: quarantine kinds must be quarantined with that reason (one row per defect),
value-level kinds must be among the failing rows of their expectation whenever the defective
record is still current, and the version/identity kinds must be resolved by the current-state rules.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ildwh.config import Paths
from ildwh.contract import QUARANTINE_REASONS

pytestmark = pytest.mark.slow

synth = pytest.importorskip("ildwh.synth")
if not hasattr(synth, "generate"):
    pytest.skip("ildwh.synth.generate is not written yet", allow_module_level=True)

# value-level defect kind -> (check name in dq.results, staging table, SQL condition of failure)
VALUE_KINDS = {
    "unmapped_lab_code": (
        "labs.unmapped_code",
        "staging.stg_ehr__lab_results",
        "value_status = 'unmapped_code'",
    ),
    "unit_not_convertible": (
        "labs.unit_not_convertible",
        "staging.stg_ehr__lab_results",
        "value_status = 'unit_not_convertible'",
    ),
    "non_numeric_result": (
        "labs.non_numeric_result",
        "staging.stg_ehr__lab_results",
        "value_status in ('blank', 'not_numeric', 'not_titre', 'not_grade')",
    ),
}
# kinds resolved by the current-state rules rather than flagged (checked below)
STATE_KINDS = {"redelivered_record", "deleted_record", "merged_patient"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from expectations.checkpoint import run_checkpoint
    from ildwh.dbt_runner import dbt_build
    from ildwh.load import load_extracts

    home = tmp_path_factory.mktemp("home")
    paths = Paths.at(home).ensure()
    synth.generate(paths.extracts, seed=20240101, scale=1, drops=2, background=3)
    load_extracts(paths.extracts, paths.restricted_db)
    build = dbt_build(paths)
    assert build.ok, build.summary_text()
    t0 = time.perf_counter()
    outcome = run_checkpoint(paths.build_db, "e2e", paths.reports_dir)
    elapsed = time.perf_counter() - t0
    print(f"\nvalidation at scale 1: {elapsed:.1f} s for {len(outcome.results)} expectations")
    with open(paths.extracts / "_truth" / "defects.csv", encoding="utf-8", newline="") as f:
        defects = list(csv.DictReader(f))
    return paths, outcome, defects


def test_every_defect_kind_is_caught(pipeline):
    paths, outcome, defects = pipeline
    kinds = Counter(d["kind"] for d in defects)
    assert kinds, "the generator planted no defects"
    known = set(QUARANTINE_REASONS) | set(VALUE_KINDS) | STATE_KINDS | {"implausible_value"}
    assert set(kinds) <= known, f"defect kinds with no expectation: {set(kinds) - known}"
    results = {r["check_name"]: r for r in outcome.results}
    con = duckdb.connect(str(paths.build_db), read_only=True)
    try:
        quarantined = Counter(
            dict(
                con.execute(
                    "select reason, count(*) from staging.stg_loader__quarantine group by 1"
                ).fetchall()
            )
        )
        for kind, n in kinds.items():
            ids = {d["record_id"] for d in defects if d["kind"] == kind}
            if kind in QUARANTINE_REASONS:
                assert quarantined[kind] == n, (kind, quarantined[kind], n)
            elif kind in VALUE_KINDS:
                name, table, cond = VALUE_KINDS[kind]
                present = {r[0] for r in con.execute(f"select record_id from {table}").fetchall()}
                flagged = {
                    r[0]
                    for r in con.execute(f"select record_id from {table} where {cond}").fetchall()
                }
                assert (ids & present) <= flagged, (kind, sorted((ids & present) - flagged)[:5])
                assert results[name]["n_failed"] == len(flagged) > 0
            elif kind == "implausible_value":
                present = {
                    r[0]
                    for r in con.execute(
                        "select record_id from staging.stg_ehr__lab_results"
                    ).fetchall()
                }
                failing = sum(
                    r["n_failed"]
                    for r in outcome.results
                    if r["check_id"] == "plausibility.lab_value"
                )
                assert failing >= len(ids & present) > 0
            elif kind == "deleted_record":
                tables = {d["table"] for d in defects if d["kind"] == kind}
                for t in tables:
                    stg = {
                        "vital_status": "vital_statuses",
                        "imaging": "imaging_reads",
                        "pulmonary_function": "pulmonary_function_tests",
                    }.get(t, t)
                    left = con.execute(
                        f"select count(*) from staging.stg_ehr__{stg} where "
                        "record_id in (select unnest(?))",
                        [list(ids)],
                    ).fetchone()
                    assert left[0] == 0, (kind, t)
    finally:
        con.close()


def test_gate_and_summary_on_the_demo_extract(pipeline):
    paths, outcome, _ = pipeline
    # the planted defects are within thresholds: the demo extract is publishable
    assert outcome.ok, [r["check_name"] for r in outcome.failed_errors]
    html = Path(outcome.summary_path).read_text()
    assert "reconciliation" in html and "quarantined rows" in html

"""`ildwh diff` on two hand-made publications (real `build_analytics`, real DuckDB files).

Run 1 -> run 2, worked by hand:
  p2  control-NSIP, baseline LDH 180 -> 400 U/L (lab corrected in drop d2; crosses cutoff 235.5)
  p3  control-NSIP analysed -> not screened (its ILD diagnosis deleted in d2)
  p6  prior_treatment -> analysed, control-OP (medication deleted in d2)
  p7  not screened -> analysed, ADM-NSIP (new patient in d2)
  p1, p4, p5 unchanged. Drop d1 (before run 1) and d3 (after run 2) must not be shown.
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import pandas as pd
import pytest

from analysis.diff import compute_diff, diff_cli, render_markdown, render_text
from ildwh import IldwhError, runs
from ildwh import publish as pub
from ildwh.config import Paths

R1, R2 = "r20230115T030000Z-aaaa", "r20230116T030000Z-bbbb"
COHORT_1 = [
    ("p1", "analysed", "ADM-NSIP"),
    ("p2", "analysed", "control-NSIP"),
    ("p3", "analysed", "control-NSIP"),
    ("p4", "analysed", "ADM-OP"),
    ("p5", "analysed", "control-OP"),
    ("p6", "prior_treatment", None),
]
COHORT_2 = [
    ("p1", "analysed", "ADM-NSIP"),
    ("p2", "analysed", "control-NSIP"),
    ("p4", "analysed", "ADM-OP"),
    ("p5", "analysed", "control-OP"),
    ("p6", "analysed", "control-OP"),
    ("p7", "analysed", "ADM-NSIP"),
]
LDH_1 = {"p1": 300.0, "p2": 180.0, "p3": 200.0, "p4": 350.0, "p5": 190.0}
LDH_2 = {"p1": 300.0, "p2": 400.0, "p4": 350.0, "p5": 190.0, "p6": 170.0, "p7": 320.0}
# (table, subgroup, item, statistic, ours run 1, ours run 2)
FIGURES = [
    ("roc", "ldh", "auc", "auc", 0.80, 0.76),
    ("roc", "ldh", "cutoff", "cutoff", 235.5, 235.5),
    ("table2", "NSIP", "ldh_u_per_l", "control_mean", 190.0, 400.0),
    ("table2", "OP", "age_years", "adm_mean", 60.0, 60.3),  # +0.5 %: below the 1 % threshold
    ("km", "ADM-NSIP", "month_12", "estimate", 0.90, 0.95),
    ("cox", "multivariate", "anti_mda5", "hr", 5.0, None),  # no longer estimable
]
CHANGES = [  # marts.record_changes of the run-2 build (all delta drops so far)
    ("d1", "lab_results", "L0", "p1", "updated", "lab LDH collected 2019-01-01: 300 U/L"),
    ("d2", "lab_results", "L2", "p2", "updated", "lab LDH collected 2019-02-01: 400 U/L"),
    ("d2", "diagnoses", "D3", "p3", "deleted", "deleted: diagnosis J84.1 dated 2019-03-01"),
    (
        "d2",
        "medications",
        "M6",
        "p6",
        "deleted",
        "deleted: medication H02AB07 prednisone started 2019-01-01",
    ),
    ("d2", "diagnoses", "D7", "p7", "new", "diagnosis J84.1 dated 2020-05-01"),
    ("d2", "clinical_findings", "F7", "p7", "new", "finding GOTTRON_SIGN present on 2020-04-20"),
    ("d3", "lab_results", "L9", "p5", "updated", "lab CK collected 2019-01-01: 80 U/L"),
]


def _build(path, cohort, ldh, run):
    con = duckdb.connect(str(path))
    for s in ("marts", "results", "dq", "staging"):
        con.execute(f"create schema {s}")
    c = pd.DataFrame(cohort, columns=["person_key", "exit_reason", "analysis_group"])
    c["index_date"] = pd.Timestamp("2019-01-01")
    c["hrct_pattern"] = c["analysis_group"].str.split("-").str[1].fillna("NSIP")
    c["control_diagnosis"] = (
        c["analysis_group"].map({"control-NSIP": "RA", "control-OP": "COP"}).astype("string")
    )
    b = c[c["exit_reason"] == "analysed"][["person_key", "analysis_group", "hrct_pattern"]].copy()
    b["is_adm"] = b["analysis_group"].str.startswith("ADM")
    b["age_years"] = 60.0
    b["ldh_u_per_l"] = b["person_key"].map(ldh)
    b["ldh_above_normal"] = b["ldh_u_per_l"] > 211
    s = b[["person_key", "analysis_group", "hrct_pattern", "is_adm"]].copy()
    s["time_days"], s["event"] = 900.0, 0
    r = pd.DataFrame(
        [(t, sub, item, stat, o if run == 1 else n) for t, sub, item, stat, o, n in FIGURES],
        columns=["results_table", "subgroup", "item", "statistic", "ours"],
    )
    r["published"] = None
    rc = pd.DataFrame(
        [x for x in CHANGES if run == 2 or x[0] == "d1"],
        columns=["drop_id", "table_name", "record_id", "person_key", "change_type", "summary"],
    )
    rc["changed_at"] = pd.Timestamp("2023-01-16 01:00")
    for name, frame in (("cohort", c), ("baseline", b), ("survival", s), ("record_changes", rc)):
        con.register("f", frame)
        con.execute(f"create table marts.{name} as select * from f")
        con.unregister("f")
    for t in ("roc", "table2", "km", "cox"):
        con.register("f", r[r["results_table"] == t].drop(columns="results_table"))
        con.execute(f"create table results.{t} as select *, cast(ours as double) as o2 from f")
        con.execute(f"alter table results.{t} drop column ours")
        con.execute(f"alter table results.{t} rename o2 to ours")
        con.unregister("f")
    con.close()


@pytest.fixture()
def published(tmp_path):
    """Two publications into one analytics.duckdb, as the flow does them."""
    paths = Paths.at(tmp_path / "home").ensure()
    prev = None
    for k, (run, cohort, ldh, fresh) in enumerate(
        ((R1, COHORT_1, LDH_1, "d1"), (R2, COHORT_2, LDH_2, "d2")), start=1
    ):
        build = tmp_path / f"build{k}.duckdb"
        _build(build, cohort, ldh, k)
        runs.start_run(paths.restricted_db, run)
        runs.finish_run(paths.restricted_db, run, "published", data_freshness=fresh)
        tmp = tmp_path / f"tmp{k}.duckdb"
        pub.build_analytics(build, paths.restricted_db, prev, tmp, run)
        pub.publish_file(tmp, paths.analytics_db)
        prev = paths.analytics_db
    return paths


def test_cohort_changes_name_each_patient_rule_and_raw_records(published):
    d = compute_diff(published.analytics_db)
    assert (d.run_from, d.run_to, d.freshness_from, d.freshness_to) == (R1, R2, "d1", "d2")
    got = {c.person_key: (c.rule, c.old_group, c.new_group) for c in d.cohort_changes}
    assert got == {
        "p3": ("analysed -> not screened", "control-NSIP", None),
        "p6": ("prior_treatment -> analysed", None, "control-OP"),
        "p7": ("not screened -> analysed", None, "ADM-NSIP"),
    }
    raw = {
        c.person_key: [(r.drop_id, r.record_id, r.change_type) for r in c.raw_changes]
        for c in d.cohort_changes
    }
    assert raw == {
        "p3": [("d2", "D3", "deleted")],
        "p6": [("d2", "M6", "deleted")],
        "p7": [("d2", "F7", "new"), ("d2", "D7", "new")],
    }
    assert dict(d.rule_counts) == {
        "analysed -> not screened": 1,
        "not screened -> analysed": 1,
        "prior_treatment -> analysed": 1,
    }
    assert d.drops == ("d2",)  # d1 is before run 1's data, d3 after run 2's
    assert set(d.attrition) == {
        ("analysed", 5, 6),
        ("prior_treatment", 1, 0),
        ("ADM-NSIP", 1, 2),
        ("control-NSIP", 2, 1),
        ("control-OP", 1, 2),
        ("ADM", 2, 3),
    }
    assert d.patients == ("p2", "p3", "p6", "p7")


def test_value_change_of_an_analysed_patient_and_cutoff_crossing(published):
    d = compute_diff(published.analytics_db)
    got = {(v.person_key, v.variable): (v.old, v.new, v.note) for v in d.value_changes}
    assert got == {
        ("p2", "ldh_u_per_l"): (180.0, 400.0, "crosses the ROC cutoff 235.5"),
        ("p2", "ldh_above_normal"): (False, True, None),
    }
    assert [r.record_id for r in d.value_changes[0].raw_changes] == ["L2"]


def test_moved_figures_with_drivers_and_threshold(published):
    d = compute_diff(published.analytics_db)
    got = {
        (f.results_table, f.subgroup, f.item, f.statistic): (f.old, f.new, f.drivers)
        for f in d.figure_changes
    }
    assert got == {
        ("roc", "ldh", "auc", "auc"): (0.80, 0.76, ("p2", "p3", "p6", "p7")),
        ("table2", "NSIP", "ldh_u_per_l", "control_mean"): (190.0, 400.0, ("p2", "p3", "p7")),
        ("km", "ADM-NSIP", "month_12", "estimate"): (0.90, 0.95, ("p7",)),
        ("cox", "multivariate", "anti_mda5", "hr"): (5.0, None, ("p7",)),
    }
    auc = next(f for f in d.figure_changes if f.statistic == "auc")
    assert auc.relative_change == pytest.approx(0.05)
    finer = compute_diff(published.analytics_db, threshold=0.001)
    assert ("table2", "OP", "age_years", "adm_mean") in {
        (f.results_table, f.subgroup, f.item, f.statistic) for f in finer.figure_changes
    }
    coarse = compute_diff(published.analytics_db, threshold=0.9)
    assert [(f.item, f.statistic) for f in coarse.figure_changes] == [  # the report's order
        ("ldh_u_per_l", "control_mean"),
        ("anti_mda5", "hr"),
    ]
    assert d.material and not compute_diff(published.analytics_db, R2, R2).material


def test_ops_tables_hold_the_diff_for_sql(published):
    con = duckdb.connect(str(published.analytics_db), read_only=True)
    rows = con.execute(
        "select run_id, previous_run_id, person_key, old_exit_reason, "
        "new_exit_reason, rule, [r.record_id for r in raw_changes] "
        "from ops.cohort_changes order by person_key"
    ).fetchall()
    figs = con.execute(
        "select results_table, item, statistic, old_value, new_value, drivers "
        "from ops.figure_changes order by 1, 2"
    ).fetchall()
    con.close()
    assert rows == [
        (R2, R1, "p3", "analysed", None, "analysed -> not screened", ["D3"]),
        (R2, R1, "p6", "prior_treatment", "analysed", "prior_treatment -> analysed", ["M6"]),
        (R2, R1, "p7", None, "analysed", "not screened -> analysed", ["F7", "D7"]),
    ]
    assert len(figs) == 4
    assert figs[0] == ("cox", "anti_mda5", "hr", 5.0, None, ["p7"])
    assert [f.drivers for f in compute_diff(published.analytics_db).figure_changes] == [
        ("p2", "p3", "p7"),
        ("p2", "p3", "p6", "p7"),
        ("p7",),
        ("p7",),
    ]


def test_read_only_and_readable_output(published, capsys):
    before = hashlib.sha256(published.analytics_db.read_bytes()).hexdigest()
    assert diff_cli(published, None, None, as_json=False) == 0
    text = capsys.readouterr().out
    assert hashlib.sha256(published.analytics_db.read_bytes()).hexdigest() == before
    assert "p3  analysed -> not screened" in text
    assert "d2 deleted diagnoses/D3: deleted: diagnosis J84.1 dated 2019-03-01" in text
    assert "ldh_u_per_l: 180 -> 400  (crosses the ROC cutoff 235.5)" in text
    assert "ADM-NSIP 1 -> 2 (+1)" in text
    assert diff_cli(published, R1, R2, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["material"] is True and len(data["cohort_changes"]) == 3
    md = render_markdown(compute_diff(published.analytics_db))
    assert "| not screened -> analysed | 1 |" in md and "p7" not in md
    assert render_text(compute_diff(published.analytics_db)).count("\n") > 10


def test_errors_name_the_fix(published, tmp_path):
    with pytest.raises(IldwhError, match="run r-nope has no snapshot in history"):
        compute_diff(published.analytics_db, run_from="r-nope")
    with pytest.raises(IldwhError, match="fewer than two published runs"):
        compute_diff(published.analytics_db, run_to=R1)
    with pytest.raises(IldwhError, match="run `ildwh refresh` first"):
        compute_diff(tmp_path / "missing.duckdb")


def test_diff_against_build_before_publication(tmp_path):
    """The report's "What changed": run 2's build against the publication of run 1 only."""
    from analysis.diff import diff_against_build

    paths = Paths.at(tmp_path / "home").ensure()
    b1, b2 = tmp_path / "b1.duckdb", tmp_path / "b2.duckdb"
    _build(b1, COHORT_1, LDH_1, 1)
    _build(b2, COHORT_2, LDH_2, 2)
    runs.start_run(paths.restricted_db, R1)
    runs.finish_run(paths.restricted_db, R1, "published", data_freshness="d1")
    pub.build_analytics(b1, paths.restricted_db, None, paths.analytics_db, R1)
    d = diff_against_build(paths.analytics_db, b2, R2, "d2")
    assert (d.run_from, d.run_to, d.drops) == (R1, R2, ("d2",))
    assert {c.person_key: c.rule for c in d.cohort_changes} == {
        "p3": "analysed -> not screened",
        "p6": "prior_treatment -> analysed",
        "p7": "not screened -> analysed",
    }
    assert len(d.figure_changes) == 4
    with pytest.raises(IldwhError, match="no earlier publication"):
        diff_against_build(tmp_path / "none.duckdb", b2, R2, "d2")

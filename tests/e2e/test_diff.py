"""End to end: generate, refresh, deliver a scenario drop, refresh again, ask `ildwh diff`.

The scenario drop (ildwh/synth/scenarios.py) holds exactly three clinical changes; the diff must
name exactly those three patients, the rule each changed, the records behind them and the figures
they moved (issue 6: one more ADM patient moves the ADM count by exactly one).
"""

from __future__ import annotations

import json
import os

import duckdb
import pytest
from prefect.blocks.abstract import NotificationBlock

from analysis.diff import compute_diff, render_text
from ildwh.keys import person_key
from ildwh.synth import generate
from ildwh.synth.scenarios import write_scenario_drop

pytestmark = pytest.mark.slow


class FileNotification(NotificationBlock):
    """A real Prefect notification block that appends to a file (stands in for a SlackWebhook)."""

    _block_type_slug = "ildwh-test-file-notification"
    path: str

    def notify(self, body: str, subject: str | None = None) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{subject}\n{body}\n")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, prefect_harness):
    from flows.nightly_refresh import nightly_refresh

    root = tmp_path_factory.mktemp("diff-e2e")
    home, extracts = root / "home", root / "extracts"
    generate(extracts, seed=20240101, scale=1, drops=1)
    first = nightly_refresh(home=str(home), extracts=str(extracts))
    scen = write_scenario_drop(extracts, "2023-01-17", seed=7)
    FileNotification(path=str(root / "notified.txt")).save("diff-e2e", overwrite=True)
    os.environ["ILDWH_NOTIFY_BLOCK"] = "ildwh-test-file-notification/diff-e2e"
    try:
        second = nightly_refresh(home=str(home), extracts=str(extracts))
    finally:
        os.environ.pop("ILDWH_NOTIFY_BLOCK", None)
    key = os.environ["ILDWH_PSEUDONYM_KEY"].encode()
    pks = {name: person_key(s["mrn"], key) for name, s in scen.items()}
    return home / "warehouse" / "analytics.duckdb", first, second, scen, pks


def scen_mrns_absent(text: str, scen: dict) -> bool:
    return not any(v["mrn"] in text for v in scen.values())


def test_both_runs_published(two_runs):
    db, first, second, _, _ = two_runs
    assert (first.status, second.status) == ("published", "published")
    assert second.drops_loaded == ["2023-01-17"]
    assert "What changed since run" in second.changes and second.material_changes is True
    assert first.changes == "" and first.material_changes is None  # nothing to compare
    sent = (db.parent.parent.parent / "notified.txt").read_text(encoding="utf-8")
    assert sent.startswith(f"ildwh: what changed in run {second.run_id}")
    assert "| not screened -> analysed | 1 |" in sent and scen_mrns_absent(sent, two_runs[3])
    html = (db.parent.parent / "reports" / "study-report.html").read_text(encoding="utf-8")
    assert f"What changed since run {first.run_id}" in html
    assert "not screened -&gt; analysed" in html and "count ADM: 69 → 70" in html


def test_diff_names_exactly_the_three_patients_and_their_rules(two_runs):
    db, first, second, scen, pk = two_runs
    d = compute_diff(db)
    assert (d.run_from, d.run_to) == (first.run_id, second.run_id)
    assert d.drops == ("2023-01-17",)
    assert set(d.patients) == set(pk.values())
    rules = {c.person_key: (c.rule, c.old_group, c.new_group) for c in d.cohort_changes}
    b_group = scen["lab_correction"]["expected"]["analysis_group"]
    assert rules == {
        pk["add_adm"]: ("not screened -> analysed", None, "ADM-NSIP"),
        pk["delete_diagnosis"]: ("analysed -> not screened", "control-NSIP", None),
    }
    assert dict(d.rule_counts) == {"not screened -> analysed": 1, "analysed -> not screened": 1}
    values = {(v.person_key, v.variable): v for v in d.value_changes}
    assert {k[0] for k in values} == {pk["lab_correction"]}
    ldh = values[(pk["lab_correction"], "ldh_u_per_l")]
    assert ldh.analysis_group == b_group
    assert ldh.old == pytest.approx(scen["lab_correction"]["expected"]["old_ldh_u_per_l"])
    assert ldh.new == 400.0
    assert (ldh.note or "").startswith("crosses the ROC cutoff")
    assert values[(pk["lab_correction"], "ldh_above_normal")].new is True


def test_raw_changes_behind_each_patient(two_runs):
    db, _, _, scen, pk = two_runs
    d = compute_diff(db)
    by = {c.person_key: c.raw_changes for c in d.cohort_changes}
    a = {(r.table_name, r.record_id, r.change_type) for r in by[pk["add_adm"]]}
    assert a == {(t, rid, "new") for t, ids in scen["add_adm"]["record_ids"].items() for rid in ids}
    c = by[pk["delete_diagnosis"]]
    assert {r.record_id for r in c} == set(scen["delete_diagnosis"]["record_ids"]["diagnoses"])
    assert all(
        r.change_type == "deleted" and r.summary.startswith("deleted: diagnosis J") for r in c
    )
    b = next(v for v in d.value_changes if v.person_key == pk["lab_correction"]).raw_changes
    assert [(r.table_name, r.record_id, r.change_type) for r in b] == [
        ("lab_results", scen["lab_correction"]["record_ids"]["lab_results"][0], "updated")
    ]
    assert b[0].summary.startswith("lab LDH collected ") and b[0].summary.endswith(": 400 U/L")
    assert scen["add_adm"]["mrn"] not in render_text(d)  # pseudonyms only


def test_moved_figures_and_attrition(two_runs):
    db, _, _, scen, pk = two_runs
    d = compute_diff(db)
    att = {s: (a, b) for s, a, b in d.attrition}
    # issue 6: the delta that adds one ADM patient changes the ADM count by exactly one
    assert att["ADM"][1] - att["ADM"][0] == 1
    assert att["ADM-NSIP"][1] - att["ADM-NSIP"][0] == 1
    assert att["control-NSIP"][1] - att["control-NSIP"][0] == -1
    assert "screened" not in att and "analysed" not in att  # +1 and -1
    figs = {(f.results_table, f.subgroup, f.item, f.statistic): f for f in d.figure_changes}
    n_all = figs[("table1", "ALL", "n", "count")]
    assert n_all.new - n_all.old == 1 and n_all.drivers == (pk["add_adm"],)
    sub = scen["lab_correction"]["expected"]["analysis_group"].split("-")[1]
    ctrl = figs[("table2", sub, "ldh_u_per_l", "control_mean")]
    assert pk["lab_correction"] in ctrl.drivers and ctrl.new > ctrl.old
    fine = compute_diff(db, threshold=1e-9)
    ff = {(f.results_table, f.subgroup, f.item, f.statistic): f for f in fine.figure_changes}
    auc = ff[("roc", "ldh", "auc", "auc")]
    assert set(auc.drivers) == set(pk.values())
    assert auc.new != auc.old
    km_n = ff[("km", "control-NSIP", "overall", "n")]
    assert (km_n.old - km_n.new, km_n.drivers) == (1, (pk["delete_diagnosis"],))
    km_adm = ff[("km", "ADM-NSIP", "overall", "n")]
    assert (km_adm.new - km_adm.old, km_adm.drivers) == (1, (pk["add_adm"],))


def test_published_ops_tables(two_runs):
    db, first, second, _, pk = two_runs
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "select previous_run_id, person_key, rule, len(raw_changes) "
        "from ops.cohort_changes where run_id = ? order by rule",
        [second.run_id],
    ).fetchall()
    n_fig = con.execute(
        "select count(*) from ops.figure_changes where run_id = ?", [second.run_id]
    ).fetchone()[0]
    con.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (first.run_id, pk["delete_diagnosis"], "analysed -> not screened"),
        (first.run_id, pk["add_adm"], "not screened -> analysed"),
    ]
    assert n_fig == len(compute_diff(db).figure_changes)


def test_scenario_drop_is_contract_valid_and_truth_matches_the_warehouse(two_runs):
    db, _, _, scen, pk = two_runs
    con = duckdb.connect(str(db), read_only=True)
    try:
        quarantined = con.execute(
            "select count(*) from dq.load_quarantine where drop_id = '2023-01-17'"
        ).fetchone()[0]
        balanced = con.execute(
            "select bool_and(balanced), sum(rows_loaded) from dq.load_reconciliation "
            "where drop_id = '2023-01-17'"
        ).fetchone()
        a = con.execute(
            "select b.analysis_group, b.age_years, b.ldh_u_per_l, b.ck_u_per_l, b.gottron_sign, "
            "b.ana_positive, s.time_days, s.event from marts.baseline b join marts.survival s "
            "using (person_key) where person_key = ?",
            [pk["add_adm"]],
        ).fetchone()
        b = con.execute(
            "select ldh_u_per_l, ldh_above_normal from marts.baseline where person_key = ?",
            [pk["lab_correction"]],
        ).fetchone()
        c = con.execute(
            "select count(*) from marts.cohort where person_key = ?", [pk["delete_diagnosis"]]
        ).fetchone()[0]
    finally:
        con.close()
    manifest = json.loads(
        (db.parents[2] / "extracts" / "2023-01-17" / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["kind"] == "delta"
    assert quarantined == 0 and balanced == (True, sum(f["rows"] for f in manifest["files"]))
    e = scen["add_adm"]["expected"]
    assert a == ("ADM-NSIP", e["age_years"], 320.0, 80.0, True, True, e["time_days"], 0)
    assert b == (400.0, True)
    assert c == 0  # no longer screened

"""The loader on a generated scale-1 extract: every manifest row reconciles, and the quarantine
holds exactly the loader-level defects the generator planted (`_truth/defects.csv`)."""

from __future__ import annotations

import csv
import json

import duckdb
import pytest

from ildwh import contract
from ildwh.load import load_extracts

synth = pytest.importorskip("ildwh.synth")

LOADER_KINDS = set(contract.QUARANTINE_REASONS)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "extracts"
    synth.generate(root, seed=12345, scale=1, drops=3)
    db = root.parent / "restricted.duckdb"
    report = load_extracts(root, db)
    return root, db, report


def test_every_manifest_row_reconciles(loaded):
    root, db, report = loaded
    manifests = {}
    for d in sorted(p for p in root.iterdir() if p.name[0].isdigit()):
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        for f in m["files"]:
            manifests[(m["drop_id"], f["name"])] = f["rows"]
    con = duckdb.connect(str(db), read_only=True)
    recon = con.execute(
        "select drop_id, file, rows_manifest, rows_read, rows_loaded, rows_duplicate, "
        "rows_quarantined, balanced from raw.reconciliation"
    ).fetchall()
    assert {(r[0], r[1]): r[2] for r in recon} == manifests
    for drop_id, file, n_manifest, n_read, n_loaded, n_dup, n_quar, balanced in recon:
        assert n_manifest == n_read == n_loaded + n_dup + n_quar, (drop_id, file)
        assert balanced
        table = file.split(".")[0]
        in_raw = con.execute(
            f"select count(*) from raw.{table} where _drop_id = ? and _file = ?", [drop_id, file]
        ).fetchone()[0]
        in_quarantine = con.execute(
            "select count(*) from raw.quarantine where drop_id = ? and file = ?", [drop_id, file]
        ).fetchone()[0]
        assert (in_raw, in_quarantine) == (n_loaded, n_dup + n_quar), (drop_id, file)
    assert report.rows_read == sum(manifests.values())
    assert report.drops_loaded == sorted({k[0] for k in manifests})
    con.close()


def test_quarantine_holds_each_planted_loader_defect(loaded):
    root, db, _ = loaded
    with open(root / "_truth" / "defects.csv", encoding="utf-8", newline="") as fh:
        planted = sorted(
            (r["drop_id"], r["table"], int(r["line"]), r["kind"])
            for r in csv.DictReader(fh)
            if r["kind"] in LOADER_KINDS
        )
    con = duckdb.connect(str(db), read_only=True)
    got = sorted(
        con.execute("select drop_id, table_name, line, reason from raw.quarantine").fetchall()
    )
    con.close()
    assert len(planted) > 50
    assert {k for *_, k in planted} == LOADER_KINDS  # every reason is exercised
    assert got == planted

"""The raw loader on hand-made drops: every contract variant, every refusal, idempotency, force.

Drops are written byte for byte by `ildwh.load.testing.write_drop` into a temp extract root and
loaded into a real DuckDB file.
"""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from ildwh import IldwhError
from ildwh.load import load_extracts
from ildwh.load.testing import csv_text, write_drop

PAT_COLS = "record_id,mrn,name,id_number,phone,sex,birth_date,smoking_status,updated_at,is_deleted"


def pat(i: int, **kw) -> dict:
    row = {
        "record_id": f"P{i}",
        "mrn": f"M{i:04d}",
        "name": f"Name {i}",
        "id_number": f"11010119800101{i:04d}",
        "phone": f"1380000{i:04d}",
        "sex": "F" if i % 2 else "M",
        "birth_date": "1970-05-0" + str(1 + i % 9),
        "smoking_status": "never",
        "updated_at": "2023-01-10 08:00:00",
        "is_deleted": "0",
    }
    row.update(kw)
    return row


def dx(i: int, **kw) -> dict:
    row = {
        "record_id": f"D{i}",
        "mrn": f"M{i:04d}",
        "dx_date": "2022-12-01",
        "icd10_code": "J84.1",
        "dx_text": "间质性肺病",
        "department": "respiratory",
        "dx_type": "admission",
        "updated_at": "2023-01-10 08:00",
        "is_deleted": "",
    }
    row.update(kw)
    return row


def patients(n: int, start: int = 1) -> str:
    return csv_text("patients", [pat(i) for i in range(start, start + n)])


def counts(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in ("patients", "diagnoses", "clinical_findings", "quarantine", "reconciliation"):
            out[t] = con.execute(f"select count(*) from raw.{t}").fetchone()[0]
        out["drops"] = [
            r[0] for r in con.execute("select drop_id from raw.drops order by 1").fetchall()
        ]
        return out
    finally:
        con.close()


def query(db, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "extracts"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "warehouse" / "restricted.duckdb"


# --------------------------------------------------------------------------------------------
# Contract variants


def test_every_csv_variant_is_parsed_value_for_value(root, db):
    # patients: UTF-8 BOM, CRLF, trailing blank lines, header in another order with case and
    # spaces, an unknown extra column, a quoted field with a CRLF and a comma inside.
    header = " MRN ,Record_ID,name,ID_Number,phone,Sex,birth_date,smoking_status,Updated_At,is_deleted, Ward "
    lines = [
        header,
        'M0001,P1,"Wang, ""Xiao"" Hong",110101198001010001,13800000001,F,1980-01-01,never,2023-01-10 08:00,0,3B',
        'M0002,P2,"two\r\nlines",110101198001010002,13800000002,男,1981/02/03,已戒烟,2023-01-10 08:00:00,,',
        "M0003,P3,张伟,110101198001010003,13800000003,2,19820304,吸烟,2023-01-10 08:00:00+08:00,1,4A",
    ]
    pat_bytes = b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n\r\n\r\n"
    # diagnoses: gzipped, with a quoted newline, a Chinese date
    dxs = [dx(1), dx(2, dx_text="line one\nline two"), dx(3, dx_date="2022年11月05日")]
    write_drop(
        root,
        "2023-01-15",
        {"patients": pat_bytes, "diagnoses": csv_text("diagnoses", dxs)},
        gz=("diagnoses",),
    )
    # a GB18030 delta drop (gzipped patients, plain diagnoses) with Chinese text
    dx_gb = csv_text("diagnoses", [dx(4, dx_text="皮肌炎相关间质性肺病，无肌病性")])
    write_drop(
        root,
        "2023-02-01T030000",
        {"patients": csv_text("patients", [pat(5, name="欧阳娜娜")]), "diagnoses": dx_gb},
        encoding="gb18030",
        kind="delta",
        gz=("patients",),
    )
    (root / "_truth").mkdir()  # ignored
    (root / "notes").mkdir()  # ignored: not a drop id

    report = load_extracts(root, db)

    assert report.drops_loaded == ["2023-01-15", "2023-02-01T030000"]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (8, 8, 0)
    rows = query(
        db,
        "select record_id, mrn, name, sex, smoking_status, is_deleted, _extra, _row, _file, "
        "_drop_kind, _extracted_at::varchar from raw.patients order by record_id",
    )
    assert rows == [
        ("P1", "M0001", 'Wang, "Xiao" Hong', "F", "never", "0", '{"Ward":"3B"}', 1,
         "patients.csv", "full", "2023-01-15 02:00:00"),
        ("P2", "M0002", "two\r\nlines", "男", "已戒烟", None, '{"Ward":null}', 2,
         "patients.csv", "full", "2023-01-15 02:00:00"),
        ("P3", "M0003", "张伟", "2", "吸烟", "1", '{"Ward":"4A"}', 3,
         "patients.csv", "full", "2023-01-15 02:00:00"),
        ("P5", "M0005", "欧阳娜娜", "F", "never", "0", None, 1,
         "patients.csv.gz", "delta", "2023-02-01 02:00:00"),
    ]  # fmt: skip
    assert query(db, "select dx_text, dx_date from raw.diagnoses order by record_id") == [
        ("间质性肺病", "2022-12-01"),
        ("line one\nline two", "2022-12-01"),
        ("间质性肺病", "2022年11月05日"),
        ("皮肌炎相关间质性肺病，无肌病性", "2022-12-01"),
    ]
    recon = query(
        db,
        "select drop_id, file, rows_manifest, rows_read, rows_loaded, balanced "
        "from raw.reconciliation order by 1, 2",
    )
    assert recon == [
        ("2023-01-15", "diagnoses.csv.gz", 3, 3, 3, True),
        ("2023-01-15", "patients.csv", 3, 3, 3, True),
        ("2023-02-01T030000", "diagnoses.csv", 1, 1, 1, True),
        ("2023-02-01T030000", "patients.csv.gz", 1, 1, 1, True),
    ]
    ledger = query(db, "select drop_id, kind, encoding, n_files, rows_manifest from raw.drops")
    assert sorted(ledger) == [
        ("2023-01-15", "full", "utf-8", 2, 6),
        ("2023-02-01T030000", "delta", "gb18030", 2, 2),
    ]
    assert (db.stat().st_mode & 0o777) == 0o600


def test_values_are_kept_exactly_as_delivered_without_trimming(root, db):
    write_drop(root, "2023-01-15", {"patients": csv_text("patients", [pat(1, name="  Li  ")])})
    load_extracts(root, db)
    assert query(db, "select name from raw.patients") == [("  Li  ",)]


# --------------------------------------------------------------------------------------------
# Quarantine


def test_every_quarantine_reason_with_counts_lines_and_rows(root, db):
    rows = [
        pat(1, name="multi\nline"),  # data row 1, lines 2-3: loaded
        pat(2, record_id=""),  # row 2, line 4: missing_record_id
        pat(3, mrn="  "),  # row 3, line 5: missing_mrn
        "MALFORMED",  # row 4, line 6: malformed_row (too few fields)
        pat(5, updated_at="yesterday"),  # row 5, line 7: bad_updated_at
        pat(6, is_deleted="Y"),  # row 6, line 8: bad_is_deleted
        pat(7, birth_date="1970-02-30"),  # row 7, line 9: unparseable_date
        pat(8, birth_date="2023-01-16"),  # row 8, line 10: future_date
        pat(9, birth_date="1899-12-31"),  # row 9, line 11: date_before_1900
        pat(1, name="multi\nline"),  # row 10, lines 12-13: exact_duplicate of row 1
        pat(11, birth_date=""),  # row 11, line 14: blank optional date: loaded
        "P12,M0012,x,1,2,F,1970-01-01,never,2023-01-10 08:00,0,EXTRA",  # row 12, line 15: malformed
        pat(13, birth_date="2023-01-15 01:59+08:00"),  # row 13: before extracted_at: loaded
        pat(14, birth_date="2023-01-14 18:30+00:00"),  # row 14, line 17: 02:30 local: future
    ]
    # a dict becomes its CSV record, a str is written verbatim
    records = [
        csv_text("patients", [r]).split("\n", 1)[1].rstrip("\n") if isinstance(r, dict) else r
        for r in rows
    ]
    pat_text = "\n".join([PAT_COLS, *records]) + "\n"
    findings = csv_text(
        "clinical_findings",
        [
            {"record_id": "F1", "mrn": "M0001", "finding_date": "2022-12-01",
             "finding_code": "GOTTRON_SIGN", "present": "1", "updated_at": "2023-01-10 08:00"},
            {"record_id": "F2", "mrn": "M0001", "finding_date": "2022-12-01",
             "finding_code": "GOTTRONS_SIGN", "present": "1", "updated_at": "2023-01-10 08:00"},
            {"record_id": "F3", "mrn": "M0001", "finding_date": "2022-12-01",
             "finding_code": " fever ", "present": "0", "updated_at": "2023-01-10 08:00"},
        ],
    )  # fmt: skip
    write_drop(root, "2023-01-15", {"patients": pat_text, "clinical_findings": findings})

    report = load_extracts(root, db)

    got = query(
        db,
        "select line, row, record_id, reason from raw.quarantine "
        "where table_name = 'patients' order by row",
    )
    assert got == [
        (4, 2, None, "missing_record_id"),
        (5, 3, "P3", "missing_mrn"),
        (6, 4, "MALFORMED", "malformed_row"),
        (7, 5, "P5", "bad_updated_at"),
        (8, 6, "P6", "bad_is_deleted"),
        (9, 7, "P7", "unparseable_date"),
        (10, 8, "P8", "future_date"),
        (11, 9, "P9", "date_before_1900"),
        (12, 10, "P1", "exact_duplicate"),
        (15, 12, "P12", "malformed_row"),
        (17, 14, "P14", "future_date"),
    ]
    assert query(
        db, "select record_id, reason from raw.quarantine where table_name = 'clinical_findings'"
    ) == [("F2", "unknown_finding_code")]
    assert query(db, "select record_id, _row from raw.patients order by _row") == [
        ("P1", 1),
        ("P11", 11),
        ("P13", 13),
    ]
    assert query(
        db,
        "select file, rows_manifest, rows_read, rows_loaded, rows_duplicate, rows_quarantined, "
        "balanced from raw.reconciliation order by file",
    ) == [
        ("clinical_findings.csv", 3, 3, 2, 0, 1, True),
        ("patients.csv", 14, 14, 3, 1, 10, True),
    ]
    assert (report.rows_read, report.rows_loaded, report.rows_duplicate) == (17, 5, 1)
    assert report.rows_quarantined == 11
    detail = dict(query(db, "select reason, detail from raw.quarantine where row in (4, 8, 10)"))
    assert detail["malformed_row"].startswith("Expected Number of Columns: 10 Found: 1")
    assert detail["future_date"] == (
        "birth_date '2023-01-16' is after the drop's extracted_at 2023-01-15 02:00:00"
    )
    assert detail["exact_duplicate"] == "exact copy of data row 1"
    raw = query(db, "select raw_record from raw.quarantine where row = 12")[0][0]
    assert raw == "P12,M0012,x,1,2,F,1970-01-01,never,2023-01-10 08:00,0,EXTRA"
    rec = json.loads(query(db, "select raw_record from raw.quarantine where row = 8")[0][0])
    assert rec["birth_date"] == "2023-01-16" and rec["mrn"] == "M0008"


# --------------------------------------------------------------------------------------------
# Refused drops


def _good_then_bad(root, db, make_bad):
    write_drop(root, "2023-01-01", {"patients": patients(3)})
    load_extracts(root, db)
    before = counts(db)
    make_bad(root / "2023-02-01")
    write_drop(root, "2023-03-01", {"patients": patients(2, start=10)}, kind="delta")
    with pytest.raises(IldwhError) as info:
        load_extracts(root, db)
    assert counts(db) == before  # nothing of the bad drop, nothing of the later one
    msg = str(info.value)
    assert "Nothing of drop 2023-02-01 was loaded" in msg
    assert "Later drops were not loaded in this run because drops load in order: 2023-03-01" in msg
    return msg


def _write_bad(**kw):
    def make(d):
        write_drop(d.parent, d.name, {"patients": patients(4, start=5)}, kind="delta", **kw)

    return make


def test_refuses_missing_manifest(root, db):
    def make(d):
        _write_bad()(d)
        (d / "manifest.json").unlink()

    msg = _good_then_bad(root, db, make)
    assert msg.startswith("drop 2023-02-01 refused: manifest.json: manifest missing")
    assert "Fix: ask the hospital to re-deliver drop 2023-02-01" in msg


def test_refuses_unparsable_manifest(root, db):
    def make(d):
        _write_bad()(d)
        (d / "manifest.json").write_text('{"drop_id": "2023-02-01",\n "kind": full}')

    msg = _good_then_bad(root, db, make)
    assert "manifest.json: manifest is not valid JSON (line 2: Expecting value)" in msg


def test_refuses_checksum_mismatch(root, db):
    def make(d):
        _write_bad()(d)
        with open(d / "patients.csv", "ab") as fh:
            fh.write(b"P99,M0099,x,1,2,F,1970-01-01,never,2023-01-10 08:00,0\n")

    msg = _good_then_bad(root, db, make)
    assert "patients.csv: checksum mismatch: manifest sha256 " in msg


def test_refuses_row_count_mismatch(root, db):
    msg = _good_then_bad(root, db, _write_bad(rows={"patients": 5}))
    assert "patients.csv: row count mismatch: the manifest says 5 data rows, the file has 4" in msg


def test_refuses_missing_required_column(root, db):
    def make(d):
        text = csv_text("patients", [pat(5)], columns=PAT_COLS.replace(",phone", "").split(","))
        write_drop(d.parent, d.name, {"patients": text, "diagnoses": csv_text("diagnoses", [])})

    msg = _good_then_bad(root, db, make)
    assert "patients.csv: line 1 (header): required column(s) missing: phone" in msg


def test_refuses_undecodable_bytes_in_declared_utf8(root, db):
    def make(d):
        data = patients(3, start=5).replace("Name 6", "Name \x00").encode()
        data = data.replace(b"\x00", b"\xff\xfe")
        write_drop(d.parent, d.name, {"patients": data})

    msg = _good_then_bad(root, db, make)
    assert "patients.csv: data row 2 (and 0 more): bytes that are not valid UTF-8" in msg
    assert 'or with "encoding": "gb18030" in its manifest' in msg


def test_refuses_undecodable_bytes_in_declared_gb18030(root, db):
    def make(d):
        data = patients(3, start=5).encode("gb18030").replace(b"Name 7", b"Name \x81\x20")
        write_drop(d.parent, d.name, {"patients": data}, encoding="gb18030")

    msg = _good_then_bad(root, db, make)
    assert "patients.csv: line 4: bytes that are not valid GB18030" in msg


def test_refuses_file_not_in_manifest(root, db):
    def make(d):
        _write_bad()(d)
        (d / "imaging.csv").write_text("record_id\n")

    msg = _good_then_bad(root, db, make)
    assert "imaging.csv: file(s) in the drop folder not listed in the manifest: imaging.csv" in msg


def test_refuses_listed_file_that_is_missing_and_bad_manifest_fields(root, db):
    def make(d):
        _write_bad()(d)
        m = json.loads((d / "manifest.json").read_text())
        m["encoding"] = "latin-1"
        (d / "manifest.json").write_text(json.dumps(m))

    msg = _good_then_bad(root, db, make)
    assert 'encoding "latin-1" is not one of utf-8, gb18030' in msg


def test_a_failure_while_writing_rolls_the_whole_drop_back(root, db, monkeypatch):
    import ildwh.load.loader as loader

    write_drop(root, "2023-01-01", {"patients": patients(3)})
    load_extracts(root, db)
    before = counts(db)
    write_drop(
        root,
        "2023-02-01",
        {"patients": patients(2, 5), "diagnoses": csv_text("diagnoses", [dx(1)])},
    )
    real, calls = loader._write_file, []

    def failing(con, m, st, loaded_at):
        calls.append(st.entry.name)
        if len(calls) == 2:  # the first file is already inserted in the transaction
            raise OSError("disk full")
        return real(con, m, st, loaded_at)

    monkeypatch.setattr(loader, "_write_file", failing)
    with pytest.raises(OSError):
        load_extracts(root, db)
    assert counts(db) == before
    monkeypatch.undo()
    assert load_extracts(root, db).drops_loaded == ["2023-02-01"]
    assert counts(db)["patients"] == 5


# --------------------------------------------------------------------------------------------
# Idempotency and re-delivery


def test_second_run_is_a_no_op_that_says_nothing_new(root, db):
    write_drop(root, "2023-01-01", {"patients": patients(3)})
    write_drop(root, "2023-02-01", {"patients": patients(2, 4)}, kind="delta")
    first = load_extracts(root, db)
    assert first.drops_loaded == ["2023-01-01", "2023-02-01"]
    assert "loaded 2 drop(s): 2023-01-01, 2023-02-01" in first.summary_text()
    before = counts(db)
    second = load_extracts(root, db)
    assert second.drops_loaded == [] and second.drops_skipped == ["2023-01-01", "2023-02-01"]
    assert (second.rows_read, second.rows_loaded) == (0, 0)
    assert second.summary_text() == "nothing new: 2 drop(s) already loaded, none to load"
    assert counts(db) == before == {
        "patients": 5, "diagnoses": 0, "clinical_findings": 0, "quarantine": 0,
        "reconciliation": 2, "drops": ["2023-01-01", "2023-02-01"],
    }  # fmt: skip
    # a new drop later: only it is loaded
    write_drop(root, "2023-03-01", {"patients": patients(1, 9)}, kind="delta")
    third = load_extracts(root, db)
    assert (third.drops_loaded, third.drops_skipped) == (
        ["2023-03-01"],
        ["2023-01-01", "2023-02-01"],
    )
    assert counts(db)["patients"] == 6


def test_same_drop_id_with_other_content_is_refused_unless_forced(root, db):
    write_drop(root, "2023-01-01", {"patients": patients(3)})
    load_extracts(root, db)
    before = counts(db)
    write_drop(root, "2023-01-01", {"patients": patients(4, start=20)})  # re-delivered, changed
    with pytest.raises(
        IldwhError,
        match=r"drop 2023-01-01 refused: manifest.json: a drop with "
        r"this drop_id was already loaded with different content",
    ):
        load_extracts(root, db)
    assert counts(db) == before
    report = load_extracts(root, db, force=True)
    assert report.drops_loaded == ["2023-01-01"]
    assert query(db, "select record_id from raw.patients order by 1") == [
        ("P20",),
        ("P21",),
        ("P22",),
        ("P23",),
    ]
    assert query(db, "select rows_manifest, rows_loaded from raw.reconciliation") == [(4, 4)]
    assert query(db, "select drop_id, rows_loaded from raw.drops") == [("2023-01-01", 4)]


def test_gzip_drop_checksum_is_of_the_compressed_bytes(root, db):
    d = write_drop(root, "2023-01-01", {"patients": patients(2)}, gz=("patients",))
    m = json.loads((d / "manifest.json").read_text())
    import hashlib

    assert (
        m["files"][0]["sha256"] == hashlib.sha256((d / "patients.csv.gz").read_bytes()).hexdigest()
    )
    assert gzip.decompress((d / "patients.csv.gz").read_bytes()).startswith(b"record_id,mrn")
    assert load_extracts(root, db).rows_loaded == 2


def test_header_only_file_loads_nothing_and_an_empty_file_is_refused(root, db):
    write_drop(root, "2023-01-01", {"patients": patients(2), "imaging": csv_text("imaging", [])})
    report = load_extracts(root, db)
    assert query(
        db, "select file, rows_manifest, rows_read, balanced from raw.reconciliation order by file"
    ) == [("imaging.csv", 0, 0, True), ("patients.csv", 2, 2, True)]
    assert report.summary_text().splitlines() == [
        "loaded 1 drop(s): 2023-01-01",
        "drop        file          manifest  read  loaded  duplicate  quarantined   ok",
        "2023-01-01  patients.csv         2     2       2          0            0  yes",
        "2023-01-01  imaging.csv          0     0       0          0            0  yes",
        "total                                  2       2          0            0",
    ]
    write_drop(root, "2023-02-01", {"patients": b""})
    with pytest.raises(IldwhError, match=r"patients.csv: line 1: the file is empty or its header"):
        load_extracts(root, db)


def test_duplicates_compare_contract_columns_not_extra_columns(root, db):
    cols = [*PAT_COLS.split(","), "instrument"]
    rows = [pat(1, instrument="A"), pat(1, instrument="B"), pat(1, instrument="A", name="other")]
    write_drop(root, "2023-01-01", {"patients": csv_text("patients", rows, columns=cols)})
    report = load_extracts(root, db)
    assert (report.rows_loaded, report.rows_duplicate) == (2, 1)
    got = query(db, "select row, reason, raw_record from raw.quarantine")
    assert got[0][:2] == (2, "exact_duplicate")
    assert json.loads(got[0][2])["_extra"] == {"instrument": "B"}
    assert query(db, "select _row, name, _extra from raw.patients order by _row") == [
        (1, "Name 1", '{"instrument":"A"}'),
        (3, "other", '{"instrument":"A"}'),
    ]


def test_many_malformed_rows_keep_every_ordinal_right(root, db):
    # more than 64 malformed rows takes the ASOF-join path for the row ordinals
    good = csv_text("patients", [pat(i) for i in range(1, 201)]).splitlines()
    lines = [good[0]]
    for i, rec in enumerate(good[1:], start=1):
        lines.append(rec)
        if i % 2 == 0:
            lines.append(f"BAD{i},only,four,fields")
    write_drop(root, "2023-01-01", {"patients": "\n".join(lines) + "\n"})
    report = load_extracts(root, db)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (300, 200, 100)
    # good record i sits at data row i + (i - 1) // 2; malformed row after record 2j at 3j
    got = query(db, "select record_id, _row from raw.patients")
    assert sorted(got) == sorted((f"P{i}", i + (i - 1) // 2) for i in range(1, 201))
    bad = query(db, "select record_id, row, line from raw.quarantine order by row")
    assert bad == [(f"BAD{2 * j}", 3 * j, 3 * j + 1) for j in range(1, 101)]

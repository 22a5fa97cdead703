"""Gzipped and GB18030 files are read through a plain UTF-8 copy (`reader.plain_copy`) whose line
breaks are counted on the way: the same records must give the same raw rows and the same
quarantine (physical lines, data rows, reasons) however they are delivered."""

from __future__ import annotations

import gzip

import duckdb
import pytest

from ildwh import IldwhError
from ildwh.load import load_extracts
from ildwh.load.testing import csv_text, write_drop

HEADER = "record_id,mrn,name,id_number,phone,sex,birth_date,smoking_status,updated_at,is_deleted"


def _rec(i: int, **kw) -> str:
    row = {
        "record_id": f"P{i}",
        "mrn": f"M{i:04d}",
        "name": f"患者 {i}",
        "id_number": f"11010119800101{i:04d}",
        "phone": f"1380000{i:04d}",
        "sex": "女",
        "birth_date": "1970-05-01",
        "smoking_status": "从不吸烟",
        "updated_at": "2023-01-10 08:00:00",
        "is_deleted": "0",
    }
    row.update(kw)
    return csv_text("patients", [row]).split("\n", 1)[1].rstrip("\n")


RECORDS = [
    _rec(1, name="两行\n名字"),  # data row 1, lines 2-3: loaded
    _rec(2, mrn=""),  # row 2, line 4: missing_mrn
    "P3,too,few",  # row 3, line 5: malformed_row
    _rec(4, name="三\n行\n名字"),  # row 4, lines 6-8: loaded
    _rec(5, birth_date="2030-01-01"),  # row 5, line 9: future_date
    _rec(1, name="两行\n名字"),  # row 6, lines 10-11: exact_duplicate of row 1
    _rec(7),  # row 7, line 12: loaded
]
TEXT = "\n".join([HEADER, *RECORDS]) + "\n\n"
EXPECTED_QUARANTINE = [
    (4, 2, "P2", "missing_mrn"),
    (5, 3, "P3", "malformed_row"),
    (9, 5, "P5", "future_date"),
    (10, 6, "P1", "exact_duplicate"),
]


def _query(db, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(
    ("encoding", "gz"),
    [("utf-8", ()), ("utf-8", ("patients",)), ("gb18030", ()), ("gb18030", ("patients",))],
    ids=["utf8", "utf8-gz", "gb18030", "gb18030-gz"],
)
def test_same_lines_rows_and_reasons_however_delivered(tmp_path, encoding, gz):
    root, db = tmp_path / "extracts", tmp_path / "restricted.duckdb"
    write_drop(root, "2023-01-15", {"patients": TEXT}, encoding=encoding, gz=gz)

    report = load_extracts(root, db)

    assert (report.rows_read, report.rows_loaded, report.rows_duplicate) == (7, 3, 1)
    assert report.rows_quarantined == 3
    got = _query(db, "select line, row, record_id, reason from raw.quarantine order by row")
    assert got == EXPECTED_QUARANTINE
    assert _query(db, "select record_id, _row, name from raw.patients order by _row") == [
        ("P1", 1, "两行\n名字"),
        ("P4", 4, "三\n行\n名字"),
        ("P7", 7, "患者 7"),
    ]


def test_a_damaged_gzip_file_refuses_the_drop(tmp_path):
    root, db = tmp_path / "extracts", tmp_path / "restricted.duckdb"
    data = gzip.compress(TEXT.encode("utf-8"), mtime=0)
    d = write_drop(root, "2023-01-15", {"patients": data[: len(data) // 2]}, rows={"patients": 7})
    (d / "patients.csv").rename(d / "patients.csv.gz")
    manifest = (d / "manifest.json").read_text(encoding="utf-8")
    (d / "manifest.json").write_text(
        manifest.replace('"patients.csv"', '"patients.csv.gz"'), encoding="utf-8"
    )

    with pytest.raises(IldwhError) as info:
        load_extracts(root, db)

    msg = str(info.value)
    assert msg.startswith("drop 2023-01-15 refused: patients.csv.gz: not a readable gzip file")
    assert "Nothing of drop 2023-01-15 was loaded" in msg

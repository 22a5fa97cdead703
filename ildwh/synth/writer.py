"""Stream rows into drop files (encodings, BOM, line ends, gzip, column order) and write manifests.

Files are written block by block; physical line numbers are tracked so every planted defect can be
reported with the line a loader would name.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ildwh.contract import TABLES

SOURCE_SYSTEM = "HIS/LIS/RIS export v3 (ildwh synthetic)"


@dataclass
class FileStyle:
    gz: bool = False
    bom: bool = False
    crlf: bool = False
    trailing_blank: bool = False
    order: tuple[str, ...] | None = None  # column order (default: contract order)
    header_variant: bool = False  # ' Record_ID' etc.
    extra: str | None = None  # an unknown extra column appended at the end


def drop_styles(k: int, drops: int) -> tuple[str, dict[str, FileStyle | None]]:
    """Encoding and per-table file style of drop k (1-based); None = the table is omitted."""
    if k == 1:
        return "utf-8", {
            "patients": FileStyle(bom=True),
            "diagnoses": FileStyle(crlf=True),
            "clinical_findings": FileStyle(trailing_blank=True),
            "lab_results": FileStyle(gz=True),
            "pulmonary_function": FileStyle(),
            "imaging": FileStyle(crlf=True, trailing_blank=True),
            "medications": FileStyle(),
            "vital_status": FileStyle(bom=True),
        }
    lab_order = (
        "mrn",
        "record_id",
        "test_code",
        "collected_at",
        "result_text",
        "unit",
        "test_name",
        "ref_range_text",
        "abnormal_flag",
        "is_deleted",
        "updated_at",
    )
    dx_order = (
        "record_id",
        "icd10_code",
        "mrn",
        "dx_date",
        "dx_text",
        "department",
        "dx_type",
        "updated_at",
        "is_deleted",
    )
    styles = {
        "patients": FileStyle(crlf=k % 2 == 1),
        "diagnoses": FileStyle(order=dx_order),
        "clinical_findings": FileStyle(bom=k > 2),
        "pulmonary_function": None,
        "lab_results": FileStyle(order=lab_order, extra="instrument_id", gz=k > 2),
        "imaging": FileStyle(header_variant=True),
        "medications": FileStyle(gz=True),
        "vital_status": FileStyle(crlf=True, trailing_blank=True),
    }
    return ("gb18030" if k == 2 else "utf-8"), styles


@dataclass
class Sink:
    path: Path
    table: str
    style: FileStyle
    encoding: str
    rows: int = 0
    lines: int = 1
    cols: tuple[str, ...] = ()
    _fh: object = None
    _raw: object = None
    _perm: list[int] = field(default_factory=list)
    _text: bool = True

    def open(self) -> None:
        self._raw = open(self.path, "wb")
        self._fh = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            if self.style.gz
            else self._raw
        )
        contract = TABLES[self.table]
        self.cols = self.style.order or contract
        self._perm = [contract.index(c) for c in self.cols]
        # only these tables carry free text that may hold newlines
        self._text = self.table in ("diagnoses", "clinical_findings", "imaging")
        header = list(self.cols)
        if self.style.header_variant:
            header = [
                (" " + c.title() + " ") if i % 2 == 0 else c.upper() for i, c in enumerate(header)
            ]
        if self.style.extra:
            header.append(self.style.extra)
        if self.style.bom:
            self._fh.write("\ufeff".encode())
        self._write_text(self._csv([header]))

    @property
    def nl(self) -> str:
        return "\r\n" if self.style.crlf else "\n"

    def _csv(self, rows) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=self.nl).writerows(rows)
        return buf.getvalue()

    def _write_text(self, text: str) -> None:
        self._fh.write(text.encode(self.encoding))

    def write(self, rows: list[list[str]], extra_vals: list[str] | None = None) -> list[int]:
        """Write rows (contract order; malformed rows allowed); returns each row's first line."""
        starts = []
        out = []
        n = len(TABLES[self.table])
        for i, r in enumerate(rows):
            if len(r) == n:
                o = [r[j] for j in self._perm]
                if self.style.extra:
                    o.append(extra_vals[i] if extra_vals else "")
            else:  # malformed: still in the file's column order, never the file's field count
                o = [r[j] for j in self._perm if j < len(r)]
                if len(r) > n:
                    o += ["unexpected"] * (2 if self.style.extra else 1)
            out.append(o)
            starts.append(self.lines + 1)
            self.lines += 1 + (sum(v.count("\n") for v in o) if self._text else 0)
        self.rows += len(rows)
        self._write_text(self._csv(out))
        return starts

    def close(self) -> dict:
        if self.style.trailing_blank:
            self._write_text(self.nl * 2)
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.close()
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return {
            "name": self.path.name,
            "table": self.table,
            "rows": self.rows,
            "sha256": h.hexdigest(),
        }


class DropWriter:
    def __init__(self, root: Path, k: int, drops: int, drop_id: str):
        self.k, self.drop_id = k, drop_id
        self.kind = "full" if k == 1 else "delta"
        self.dir = root / drop_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.encoding, styles = drop_styles(k, drops)
        self.sinks: dict[str, Sink] = {}
        for t, st in styles.items():
            if st is None:
                continue
            s = Sink(self.dir / (t + (".csv.gz" if st.gz else ".csv")), t, st, self.encoding)
            s.open()
            self.sinks[t] = s

    def close(self, extracted_at: str) -> dict:
        files = [self.sinks[t].close() for t in TABLES if t in self.sinks]
        manifest = {
            "drop_id": self.drop_id,
            "kind": self.kind,
            "extracted_at": extracted_at,
            "source_system": SOURCE_SYSTEM,
            "encoding": self.encoding,
            "files": files,
        }
        (self.dir / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return manifest

"""Format semantic rows as the hospital's export writes them, and add the rows the loader must
quarantine. Every cosmetic variant here parses back to the same value under the contract."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from ildwh.contract import TABLES
from ildwh.synth import params as P

DATE_COL = {
    "patients": 6,
    "diagnoses": 2,
    "clinical_findings": 2,
    "lab_results": 2,
    "pulmonary_function": 2,
    "imaging": 2,
    "medications": 4,
    "vital_status": 2,
}
_DAY_CACHE: dict[tuple[int, int], str] = {}
DATE_STYLES = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d 09:30")
SEX = {
    "M": ("M", "male", "男", "1", "M"),
    "F": ("F", "female", "女", "2", "F"),
    "U": ("", "U", "unknown"),
}
SMOKING = {
    "never": ("never", "从不吸烟"),
    "former": ("former", "已戒烟"),
    "current": ("current", "吸烟"),
    "unknown": ("unknown",),
    "": ("",),
}
TRUE = ("1", "Y", "yes", "true", "是", "1", "1")
FALSE = ("0", "N", "no", "false", "否", "0", "0")
DEC_RE = re.compile(r"^[0-9]+\.[0-9]+$")
INT_RE = re.compile(r"^[0-9]+$")
QUARANTINE = (
    "malformed_row",
    "missing_record_id",
    "missing_mrn",
    "bad_updated_at",
    "bad_is_deleted",
    "unparseable_date",
    "future_date",
    "date_before_1900",
    "unknown_finding_code",
)
# where each quarantine kind is planted at least once per block in the full drop
DESIGNATED = {
    "malformed_row": ("lab_results", "diagnoses"),
    "missing_record_id": ("lab_results",),
    "missing_mrn": ("diagnoses",),
    "bad_updated_at": ("medications",),
    "bad_is_deleted": ("vital_status",),
    "unparseable_date": ("lab_results",),
    "future_date": ("diagnoses", "lab_results"),
    "date_before_1900": ("patients",),
    "unknown_finding_code": ("clinical_findings",),
}


def fmt_day(day: int, style: int) -> str:
    key = (day, style)
    s = _DAY_CACHE.get(key)
    if s is None:
        s = (P.EPOCH + dt.timedelta(days=int(day))).strftime(DATE_STYLES[style])
        if len(_DAY_CACHE) < 2_000_000:
            _DAY_CACHE[key] = s
    return s


def fmt_ts(sec: int, style: int) -> str:
    d, s = divmod(int(sec), 86400)
    hms = f"{s // 3600:02d}:{s % 3600 // 60:02d}"
    base = fmt_day(d, 0) + " " + hms
    if style == 0:
        return base + f":{s % 60:02d}"
    if style == 1:
        return base + f":{s % 60:02d}+08:00"
    return base  # only used for whole minutes


class Renderer:
    def __init__(self, rng: np.random.Generator, background: set[str] | None = None):
        self.rng = rng
        self.background = background or set()
        self.timed = False  # dates with a time of day: only on rows of background persons

    def day(self, d, allow_time=True) -> str:
        """A date in a random contract format. `YYYY-MM-DD HH:MM` only on background rows, so no
        window boundary depends on whether a pipeline compares dates or timestamps."""
        if d is None:
            return ""
        r = self.rng.random() * (1.0 if allow_time and self.timed else 0.9)
        st = 0 if r < 0.55 else 1 if r < 0.7 else 2 if r < 0.8 else 3 if r < 0.9 else 4
        return fmt_day(d, st)

    def ts(self, sec: int) -> str:
        r = self.rng.random()
        return fmt_ts(sec, 0 if r < 0.45 else 1 if r < 0.75 else 2)

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def number(self, text: str) -> str:
        r = self.rng.random()
        if DEC_RE.match(text):
            if r < 0.12:
                return text.replace(".", ",")
            if r < 0.17:
                return f" {text} "
        elif INT_RE.match(text) and r < 0.05:
            return text + ".0"
        return text

    def mrn(self, m: str) -> str:
        r = self.rng.random()
        return m if r > 0.01 else (m.lower() if r < 0.005 else m + " ")

    def row(self, table: str, r: tuple) -> list[str]:
        """Strings in contract column order for one semantic row."""
        f, (_drop, upd, deleted, _k, _d) = r[:-5], r[-5:]
        self.timed = f[1] in self.background
        if table == "patients":
            out = [
                f[0],
                f[1],
                f[2],
                f[3],
                f[4],
                self.pick(SEX[f[5]]),
                self.day(f[6], False),
                self.pick(SMOKING[f[7]]),
            ]
        elif table == "diagnoses":
            out = [f[0], self.mrn(f[1]), self.day(f[2]), f[3], f[4], f[5], f[6]]
        elif table == "clinical_findings":
            out = [
                f[0],
                self.mrn(f[1]),
                self.day(f[2]),
                f[3],
                self.pick(TRUE if f[4] else FALSE),
                f[5],
            ]
        elif table == "lab_results":
            out = [
                f[0],
                self.mrn(f[1]),
                self.ts(f[2]),
                f[3],
                f[4],
                self.number(f[5]),
                f[6],
                f[7],
                f[8],
            ]
        elif table == "pulmonary_function":
            out = [f[0], self.mrn(f[1]), self.day(f[2]), f[3], f[4], f[5]]
        elif table == "imaging":
            out = [f[0], self.mrn(f[1]), self.day(f[2]), f[3], f[4], f[5], f[6]]
        elif table == "medications":
            out = [f[0], self.mrn(f[1]), f[2], f[3], self.day(f[4]), self.day(f[5]), f[6]]
        else:
            out = [f[0], self.mrn(f[1]), self.day(f[2]), f[3], self.day(f[4]), f[5]]
        out.append(self.ts(upd))
        out.append("1" if deleted else ("0" if self.rng.random() < 0.75 else ""))
        return out


def junk_row(rd: Renderer, table: str, base: list[str], kind: str, rid: str) -> list[str]:
    """A copy of a harmless background row, corrupted so the loader must quarantine it."""
    row = list(base)
    row[0] = rid
    n = len(TABLES[table])
    dc = DATE_COL[table]
    if kind == "malformed_row":
        row = row[:-1] if rd.rng.random() < 0.5 else row + ["unexpected"]
    elif kind == "missing_record_id":
        row[0] = ""
    elif kind == "missing_mrn":
        row[1] = ""
    elif kind == "bad_updated_at":
        row[n - 2] = rd.pick(("yesterday", "2023-13-45 25:00", "n/a"))
    elif kind == "bad_is_deleted":
        row[n - 1] = rd.pick(("2", "deleted", "x"))
    elif kind == "unparseable_date":
        row[dc] = rd.pick(("31/12/2019", "2019-02-30", "Dec 3 2019", "2019.05.06"))
    elif kind == "future_date":
        row[dc] = rd.pick(("2024-06-01", "2030/01/01", "20250115"))
    elif kind == "date_before_1900":
        row[dc] = rd.pick(("1899-12-31", "1850-01-01", "18990101"))
    elif kind == "unknown_finding_code":
        row[3] = rd.pick(("SKIN_RASH_NOS", "DYSPHAGIA", "heliotrope"))
    return row

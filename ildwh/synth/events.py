"""Turn a block plan into semantic table rows (typed values, every delivered version of a record).

A row is `fields + (drop, updated_at_seconds, is_deleted, defect_kind, defect_detail)`; dates are
day numbers, lab times local seconds since 1970. `render.py` formats them; `truth.py` reads them.
"""

from __future__ import annotations

import numpy as np

from ildwh.synth import params as P
from ildwh.synth.cohort import Person

TABLE_PREFIX = {
    "patients": "PT",
    "diagnoses": "DX",
    "clinical_findings": "CF",
    "lab_results": "LR",
    "pulmonary_function": "PF",
    "imaging": "IM",
    "medications": "MD",
    "vital_status": "VS",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国海燕"
J84 = ("J84.1", "j84.102", "J84.1 ", "J84.1x01", "J84.101", "J84.9", "J84.116", "J84.112", " J84.1")
DM_CODES = ("M33.1", "M33.101", "m33.1", "M33.9", "M33.0", "M33.102")
NSIP_TXT = ("NSIP", "fNSIP", "cellular NSIP", "NSIP/OP", "nsip", " NSIP ", "Cellular NSIP")
OP_TXT = ("OP", "COP-like", "OP/NSIP", "op", "OP ", "cop-like")
COMORBID = (
    ("I10", "高血压"),
    ("E11.9", "2型糖尿病"),
    ("J18.9", "肺炎"),
    ("K21.0", "GERD"),
    ("J44.9", "COPD"),
    ("I25.1", "冠心病"),
    ("N18.3", "CKD stage 3"),
)
REPORTS = (
    "双肺下叶网格影及磨玻璃影, 胸膜下分布",
    'Bilateral lower-lobe GGO, "subpleural sparing".\nSuggest NSIP.',
    "Peribronchovascular consolidation, reversed halo sign",
    "双肺散在实变影，考虑机化性肺炎",
    "Honeycombing, traction bronchiectasis",
    'Follow-up: partial resolution, "stable"',
)
GRADE_POS = ("+", "++", "+++", "positive", "pos", "阳性")
GRADE_WEAK = ("+-", "weak positive", "弱阳性", "weak")
GRADE_NEG = ("-", "negative", "neg", "阴性")
ANA_POS = ("1:80", "1:160", "1:320", "1:640", "1:1280", ">1:1000")
ANA_NEG = ("1:40", "<1:40", "<1:80", "negative", "阴性")


CODE_NAME = {c: n for rows in P.LAB.values() for c, n, _ in rows}
CODE_UNIT = {c: us[0][0] for rows in P.LAB.values() for c, _, us in rows}


class Block:
    """Collects the semantic rows of one block."""

    def __init__(self, rng: np.random.Generator, block: int, drops: int):
        self.rng, self.block, self.drops = rng, block, drops
        self.rows: dict[str, list[tuple]] = {t: [] for t in TABLE_PREFIX}
        self.counter = dict.fromkeys(TABLE_PREFIX, 0)
        self.first = P.day(P.FIRST_DROP)

    # ---- helpers
    def rid(self, table: str) -> str:
        self.counter[table] += 1
        return f"{TABLE_PREFIX[table]}{self.block:04d}{self.counter[table]:06d}"

    def drop_time(self, k: int) -> int:
        """A time inside the window of drop k (after drop k-1 was extracted, before drop k)."""
        base = (self.first + k - 2) * 86400 + 3 * 3600
        return base + int(self.rng.integers(0, 20 * 3600))

    def upd(self, day: int) -> int:
        d = min(day + int(self.rng.integers(0, 25)), self.first - 1)
        return d * 86400 + int(self.rng.integers(8 * 3600, 20 * 3600))

    def late_drop(self, p: float = 0.04) -> int:
        if self.drops > 1 and self.rng.random() < p:
            return int(self.rng.integers(2, self.drops + 1))
        return 1

    def emit(self, table, fields, day, drop=None, upd=None, deleted=0, kind="", detail=""):
        drop = self.late_drop() if drop is None else drop
        if upd is None:
            upd = self.upd(day) if drop == 1 else self.drop_time(drop)
        upd -= upd % 60  # some renderings drop the seconds: keep every version exact
        self.rows[table].append((*fields, drop, upd, deleted, kind, detail))

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    # ---- tables
    def dx(self, p: Person, off: int, code: str, text: str = "", dept: str = "respiratory", **kw):
        d = p.index_day + off
        if d > P.day(P.LAST_EVENT):
            return
        f = (
            self.rid("diagnoses"),
            p.mrn,
            d,
            code,
            text,
            dept,
            self.pick(("admission", "discharge", "outpatient")),
        )
        self.emit("diagnoses", f, d, **kw)

    def finding(self, p: Person, off: int, code: str, present: bool = True, note: str = "", **kw):
        d = p.index_day + off
        if d > P.day(P.LAST_EVENT):
            return
        self.emit(
            "clinical_findings",
            (self.rid("clinical_findings"), p.mrn, d, code, present, note),
            d,
            **kw,
        )

    def lab(
        self,
        p,
        off,
        analyte,
        text,
        unit=None,
        code=None,
        tod=None,
        rid=None,
        ref=None,
        flag="",
        **kw,
    ):
        d = p.index_day + off
        if d > P.day(P.LAST_EVENT):
            return None
        if code is None:
            code, name, _ = self.pick(P.LAB[analyte])
        name = CODE_NAME[code] if analyte in P.LAB else kw.pop("name")
        if unit is None:
            unit = CODE_UNIT[code]
        if ref is None:
            ref = P.REF_RANGE.get(analyte, "") if P.UNIT_FACTOR.get((analyte, unit)) == 1 else ""
            if ref and analyte == "CK":
                ref = self.pick(("26-190", "26~190", "40-200 U/L", ""))
        sec = d * 86400 + (tod if tod is not None else int(self.rng.integers(7 * 60, 11 * 60)) * 60)
        f = (rid or self.rid("lab_results"), p.mrn, sec, code, name, text, unit, ref, flag)
        self.emit("lab_results", f, d, **kw)
        return f

    def numeric(self, p, off, analyte, value, force_canonical=False, **kw):
        """A numeric result written in a randomly chosen code and unit; returns the row fields."""
        code, _, units = self.pick(P.LAB[analyte])
        unit, factor, dec = units[0] if force_canonical else self.pick(units)
        if (
            analyte in ("LDH", "CK")
            and factor != 1
            and (abs(value - 211) < 4 or abs(value - 235.5) < 4 or abs(value - 190) < 8)
        ):
            unit, factor, dec = units[0]
        if analyte == "FIO2":
            text = f"{value / factor:.{dec}f}"
        elif analyte == "HSCRP" and value < 0.5:
            code, unit, text = "IMM010", "mg/L", "<0.5"
        elif analyte == "FERRITIN" and value > 2000:
            code, unit, text = "IMM040", "ug/L", ">2000"
        else:
            text = f"{value / factor:.{dec}f}"
        flag = ""
        lohi = P.REF_RANGE.get(analyte, "").split("-")
        if len(lohi) == 2:
            flag = "H" if value > float(lohi[1]) else ("L" if value < float(lohi[0]) else "N")
            flag = flag if self.rng.random() < 0.7 else ""
        return self.lab(p, off, analyte, text, unit=unit, code=code, flag=flag, **kw)

    def image(self, p, off, pattern, reader="consensus", modality=None, **kw):
        d = p.index_day + off
        if d > P.day(P.LAST_EVENT):
            return None
        modality = modality or self.pick(("HRCT", "HRCT", "HRCT", "hrct", "HRCT "))
        f = (self.rid("imaging"), p.mrn, d, modality, reader, pattern, self.pick(REPORTS))
        self.emit("imaging", f, d, **kw)
        return f

    def med(self, p, name, atc, start, end, route="oral", **kw):
        s = p.index_day + start
        if s > P.day(P.LAST_EVENT):
            return
        e = None if end is None else min(p.index_day + end, P.day(P.LAST_EVENT))
        self.emit("medications", (self.rid("medications"), p.mrn, name, atc, s, e, route), s, **kw)

    def vital(self, p, off, status, death_off=None, **kw):
        d = min(p.index_day + off, P.day(P.LAST_EVENT))
        dd = None if death_off is None else p.index_day + death_off
        f = (self.rid("vital_status"), p.mrn, d, status, dd, self.pick(("record", "telephone")))
        self.emit("vital_status", f, d, **kw)
        return f

    def patient(self, p: Person):
        rng = self.rng
        idx = P.EPOCH + P.dt.timedelta(days=p.index_day)
        try:
            anniv = idx.replace(year=idx.year - p.age)
        except ValueError:  # 29 February
            anniv = idx.replace(year=idx.year - p.age, day=28)
        birth = P.day(anniv) - int(rng.integers(0, 360))
        name = self.pick(SURNAMES) + "".join(
            self.pick(GIVEN) for _ in range(int(rng.integers(1, 3)))
        )
        idn = (
            f"3302{int(rng.integers(10, 99))}{anniv.year}{int(rng.integers(1000, 9999)):04d}"
            f"{int(rng.integers(100, 999))}{self.pick('0123456789X')}"
        )
        phone = f"13{int(rng.integers(100000000, 999999999))}"
        fields = [self.rid("patients"), p.mrn, name, idn, phone, p.sex, birth, p.smoking]
        merged = p.screened and rng.random() < 0.04
        if merged:  # an older registration under another record_id, same mrn, stale values
            old = list(fields)
            old[0] = self.rid("patients")
            old[7] = self.pick(("unknown", "", "never" if p.smoking != "never" else "current"))
            old[5] = self.pick(("M", "F")) if rng.random() < 0.3 else p.sex
            self.emit(
                "patients",
                tuple(old),
                p.index_day - 800,
                drop=1,
                upd=(p.index_day - 800) * 86400 + 36000,
                kind="merged_patient",
                detail="older registration of the same mrn; the later updated_at wins",
            )
        late = self.late_drop(0.05)
        self.emit("patients", tuple(fields), p.index_day, drop=late)
        if not merged and late == 1 and self.drops > 1 and rng.random() < 0.03:
            k = int(rng.integers(2, self.drops + 1))
            self.emit(
                "patients",
                tuple(fields),
                p.index_day,
                drop=k,
                kind="redelivered_record",
                detail="same content re-delivered with a later updated_at",
            )

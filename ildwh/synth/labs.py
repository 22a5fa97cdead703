"""Laboratory rows: the baseline result of each analyte and the results the baseline rule must not
pick (outside the window, farther, after treatment start, non-numeric, ties, versions)."""

from __future__ import annotations

import numpy as np

from ildwh.synth import params as P
from ildwh.synth.cohort import Person
from ildwh.synth.events import (
    GRADE_NEG,
    GRADE_POS,
    GRADE_WEAK,
    Block,
)

BG_FAR = tuple(range(-200, -30)) + tuple(range(31, 201))


_CUM: dict[tuple[int, int], np.ndarray] = {}


def _bounded_day(b: Block, p: Person, lo: int, hi: int) -> int:
    """A random offset in [lo, hi] weighted towards 0 (labs cluster at the admission)."""
    cum = _CUM.get((lo, hi))
    if cum is None:
        w = np.exp(-np.abs(np.arange(lo, hi + 1)) / 4.0)
        cum = _CUM[(lo, hi)] = np.cumsum(w) / w.sum()
    return lo + min(int(np.searchsorted(cum, b.rng.random())), hi - lo)


def _hi(p: Person, ts: int | None) -> int:
    """Last day offset a baseline result may have: before treatment, before day 30 and on or
    before the last event date."""
    return min(29, P.day(P.LAST_EVENT) - p.index_day, 29 if ts is None else ts - 1)


def _limit(p: Person) -> int:
    return (p.death - 1) if p.death is not None else p.last_contact


def _random_value(b: Block, p: Person, a: str, gi: int = 1) -> float:
    kind, ms, dec, lo, hi = P.CONT[a]
    m, s = ms[gi]
    v = (
        b.rng.lognormal(
            np.log(m) - 0.5 * np.log(1 + (s / m) ** 2), np.sqrt(np.log(1 + (s / m) ** 2))
        )
        if kind == "logn"
        else b.rng.normal(m, s)
    )
    v = float(np.clip(v, lo, hi))
    if a == "CK" and p.iim_dx:
        v = min(v, 150 + 35 * b.rng.random())
    return round(v, dec)


def serial_numeric(b: Block, p: Person, a: str, value: float | None, ts: int | None, gi: int):
    """The baseline result (if any) plus results the baseline rule must not pick."""
    rng = b.rng
    hi = _hi(p, ts)
    lim = _limit(p)
    for off in rng.choice(BG_FAR, size=int(rng.integers(0, 3)), replace=False):
        if off <= lim and not (a == "CK" and abs(off) in (180, 181)):
            b.numeric(p, int(off), a, _random_value(b, p, a, gi))
    if value is None:
        return
    d0 = _bounded_day(b, p, -30, hi)
    value = round(value, P.CONT[a][2])
    tie = rng.random() < 0.03
    rid = None
    if tie:
        base = b.rid("lab_results")
        rid = base + "-9"
    kind = ""
    special = (a == "HSCRP" and value < 0.5) or (a == "FERRITIN" and value > 2000)
    versions = b.drops > 1 and rng.random() < 0.05 and not special
    if versions:
        kind = str(
            rng.choice(["changed_value_delta", "stale_redelivery", "same_updated_at_later_drop"])
        )
    if kind == "":
        f = b.numeric(p, d0, a, value, rid=rid)
    else:
        k = int(rng.integers(2, b.drops + 1))
        wrong = round(value * 10 + 1, P.CONT[a][2])
        if kind == "changed_value_delta":
            old = b.numeric(
                p,
                d0,
                a,
                wrong,
                rid=rid,
                drop=1,
                force_canonical=True,
                kind=kind,
                detail="value corrected in a later drop",
            )
            b.emit(
                "lab_results",
                (*old[:5], _canon_text(a, value), *old[6:]),
                0,
                drop=k,
                kind=kind,
                detail="corrected value (current)",
            )
        elif kind == "stale_redelivery":
            f = b.numeric(p, d0, a, value, rid=rid, drop=1, force_canonical=True)
            upd = b.rows["lab_results"][-1][-4]
            b.emit(
                "lab_results",
                (*f[:5], _canon_text(a, wrong), *f[6:]),
                0,
                drop=k,
                upd=upd - 86400 * 30,
                kind=kind,
                detail="older version re-delivered later: the earlier drop's row stays current",
            )
        else:
            f = b.numeric(
                p,
                d0,
                a,
                wrong,
                rid=rid,
                drop=1,
                force_canonical=True,
                kind=kind,
                detail="first version",
            )
            upd = b.rows["lab_results"][-1][-4]
            b.emit(
                "lab_results",
                (*f[:5], _canon_text(a, value), *f[6:]),
                0,
                drop=k,
                upd=upd,
                kind=kind,
                detail="same updated_at in a later drop: the later drop wins",
            )
    row = b.rows["lab_results"][-1]
    tod = row[2] - (p.index_day + d0) * 86400
    if tie:  # same collection time, smaller record_id as text: must lose
        b.numeric(
            p,
            d0,
            a,
            _random_value(b, p, a, gi),
            rid=base + "-10",
            tod=tod,
            drop=1,
            kind="baseline_tie_record_id",
            detail=f"loses the tie to {base}-9",
        )
    if d0 < 0 and -d0 <= hi and rng.random() < 0.05:  # same distance after index: earlier wins
        b.numeric(
            p,
            -d0,
            a,
            _random_value(b, p, a, gi),
            tod=tod,
            drop=1,
            kind="baseline_tie_earlier_wins",
            detail="same distance as the baseline, later",
        )
    far = [d for d in range(-29, hi + 1) if abs(d) > abs(d0)]
    if far and rng.random() < 0.35:
        b.numeric(p, int(rng.choice(far)), a, _random_value(b, p, a, gi))
    if ts is not None and ts <= 25 and rng.random() < 0.6:
        b.numeric(
            p,
            int(rng.integers(ts, ts + 4)),
            a,
            _random_value(b, p, a, gi),
            kind="after_treatment_start",
            detail="closer but after treatment start",
        )
    closer = [d for d in range(-29, hi + 1) if abs(d) < abs(d0)] or [d0]
    if a in ("LDH", "AST", "ALT", "CK", "HB") and rng.random() < 0.06 and closer:
        d = int(rng.choice(closer))
        b.lab(
            p,
            d,
            a,
            b.pick(("hemolysed", "溶血", "see note", "")),
            tod=6 * 3600 + 1800,
            kind="non_numeric_result",
            detail="closer to index but not a number",
        )
    if rng.random() < 0.02 and closer:
        d = int(rng.choice(closer))
        f = b.numeric(p, d, a, _random_value(b, p, a, gi), drop=1)
        if f is not None:
            k = int(rng.integers(2, b.drops + 1)) if b.drops > 1 else 1
            if k == 1:
                b.rows["lab_results"].pop()
            b.emit(
                "lab_results",
                f,
                0,
                drop=k,
                deleted=1,
                kind="deleted_record",
                detail="closer result deleted at the source",
            )


def _canon_text(a: str, v: float) -> str:
    return f"{v:.{P.CONT[a][2]}f}" if a in P.CONT else str(v)


def grade_lab(b: Block, p: Person, a: str, state: str | None, ts: int | None):
    hi = _hi(p, ts)
    if state is None:
        if b.rng.random() < 0.2:
            b.lab(p, int(b.rng.integers(60, 200)), a, b.pick(GRADE_POS + GRADE_NEG))
        return
    text = b.pick({"pos": GRADE_POS, "weak": GRADE_WEAK, "neg": GRADE_NEG}[state])
    d0 = _bounded_day(b, p, -30, hi)
    b.lab(
        p,
        d0,
        a,
        text,
        kind="weak_positive_grade" if state == "weak" else "",
        detail="weakly positive counts as negative" if state == "weak" else "",
    )
    if b.rng.random() < 0.1 and d0 - 1 > -30:  # an earlier, farther result with the other answer
        far = [d for d in range(-29, hi + 1) if abs(d) > abs(d0)]
        if far:
            b.lab(p, int(b.rng.choice(far)), a, b.pick(GRADE_NEG if state == "pos" else GRADE_POS))


def _blood_gas(b: Block, p: Person, gi: int):
    rng, ts = b.rng, p.treat_start
    hi = _hi(p, ts)

    def sample(off, pao2, fio2, lac, **kw):
        tod = int(rng.integers(7 * 60, 11 * 60)) * 60
        b.numeric(p, off, "PAO2", pao2, tod=tod, **kw)
        b.numeric(p, off, "FIO2", fio2, tod=tod, **kw)
        b.numeric(p, off, "LACTATE", lac, tod=tod, **kw)

    def rand():
        return (
            _random_value(b, p, "PAO2", gi),
            float(pk((0.21, 0.29, 0.33))),
            _random_value(b, p, "LACTATE", gi),
        )

    pk = b.pick
    if p.fio2 is not None:
        d0 = _bounded_day(b, p, -30, hi)
        sample(d0, round(p.values["PAO2"], 1), p.fio2, round(p.values["LACTATE"], 1))
        far = [d for d in range(-29, hi + 1) if abs(d) > abs(d0)]
        if far and rng.random() < 0.3:
            sample(int(rng.choice(far)), *rand())
        if ts is not None and ts <= 25 and rng.random() < 0.3:
            sample(
                int(rng.integers(ts, ts + 3)),
                *rand(),
                kind="after_treatment_start",
                detail="blood gas after treatment start",
            )
    elif rng.random() < 0.3 and 40 <= _limit(p):
        sample(int(rng.integers(40, max(41, min(200, _limit(p))))), *rand())


def _value_extras(b: Block, p: Person):
    rng = b.rng
    if rng.random() < 0.3:
        code, name, unit, text = b.pick(P.UNUSED_CODES)
        b.lab(
            p,
            int(rng.integers(-5, 5)),
            "_",
            text,
            unit=unit,
            code=code,
            name=name,
            ref="",
            kind="unused_lab_code",
            detail="known code the study does not use",
        )
    if rng.random() < 0.05:
        b.lab(
            p,
            int(rng.integers(-5, 5)),
            "_",
            "3.2",
            unit="10^9/L",
            code="HEM999",
            name="中性粒细胞绝对值",
            ref="",
            kind="unmapped_lab_code",
            detail="code not in the lab catalogue",
        )

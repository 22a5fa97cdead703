"""The rows of an analysed patient (diagnoses, findings, labs, imaging, treatment, vital status)."""

from __future__ import annotations

from ildwh.contract import BLOOD_GAS_ANALYTES, NUMERIC_ANALYTES
from ildwh.synth import params as P
from ildwh.synth.cohort import Person
from ildwh.synth.events import (
    ANA_NEG,
    ANA_POS,
    COMORBID,
    DM_CODES,
    J84,
    NSIP_TXT,
    OP_TXT,
    Block,
)
from ildwh.synth.labs import (
    _blood_gas,
    _bounded_day,
    _hi,
    _limit,
    _value_extras,
    grade_lab,
    serial_numeric,
)

SYSTEMIC = ("FEVER", "RAYNAUD", "ARTHRALGIA", "ARTHRITIS", "WEIGHT_LOSS", "FATIGUE")
PATTERN_OTHER = ("UIP", "probable UIP", "DAD", "LIP", "indeterminate", "other")


def _imaging_nsip_op(b: Block, p: Person, s0: int | None = None, mode: str | None = None):
    rng = b.rng
    txt = NSIP_TXT if p.pattern == "NSIP" else OP_TXT
    other = OP_TXT if p.pattern == "NSIP" else NSIP_TXT
    if s0 is None:
        s0 = int(rng.integers(-20, 15))
    if "hrct_m90" in p.decoys:
        s0 = -90
    if "hrct_p30" in p.decoys:
        s0 = 30
    mode = mode or str(rng.choice(["consensus", "all", "agree"], p=[0.4, 0.3, 0.3]))
    if "consensus_overrides" in p.decoys:
        mode = "disagree"
    if mode in ("consensus", "all", "disagree"):
        if "pattern_corrected" in p.decoys and b.drops > 1:
            f = b.image(
                p,
                s0,
                "UIP",
                drop=1,
                kind="changed_value_delta",
                detail="consensus pattern corrected in a later drop",
            )
            k = int(rng.integers(2, b.drops + 1))
            b.emit(
                "imaging",
                (*f[:5], b.pick(txt), f[6]),
                0,
                drop=k,
                kind="changed_value_delta",
                detail="corrected consensus pattern (current)",
            )
        else:
            b.image(p, s0, b.pick(txt))
    if mode == "all":
        b.image(p, s0, b.pick(txt), reader="R1")
        b.image(p, s0, b.pick(txt) if rng.random() < 0.7 else "UIP", reader="R2")
    elif mode == "disagree":
        b.image(
            p,
            s0,
            b.pick(txt),
            reader="R1",
            kind="reader_disagreement",
            detail="R1 and R2 disagree; the consensus read decides",
        )
        b.image(p, s0, b.pick(other), reader="R2")
    elif mode == "agree":
        same = b.pick(txt)
        b.image(
            p,
            s0,
            same,
            reader="R1",
            kind="readers_agree_no_consensus",
            detail="R1 and R2 agree, no consensus read",
        )
        b.image(p, s0, same, reader="R2")
    if rng.random() < 0.15:
        b.image(
            p,
            int(rng.integers(-5, 6)),
            "UIP",
            modality=b.pick(("CT", "ct")),
            kind="plain_ct_not_candidate",
            detail="plain CT is not an HRCT candidate",
        )
    if "uip_before_window" in p.decoys:
        b.image(p, -120, "UIP", kind="hrct_outside_window", detail="HRCT before day -90")
    if rng.random() < 0.4 and 60 <= _limit(p):
        b.image(p, int(rng.integers(60, max(61, min(700, _limit(p))))), b.pick(PATTERN_OTHER + txt))


def _vital(b: Block, p: Person):
    rng = b.rng
    lim = _limit(p)
    for _ in range(int(rng.integers(0, 3))):
        if lim > 30:
            b.vital(p, int(rng.integers(30, lim + 1)), "alive")
    if p.death is not None:
        st = p.death + int(rng.integers(0, 15))
        blank = rng.random() < 0.15
        if blank:
            b.vital(p, p.death, "dead", None)
        elif b.drops > 1 and rng.random() < 0.15:
            f = b.vital(
                p,
                st,
                "dead",
                p.death + 20,
                drop=1,
                kind="changed_value_delta",
                detail="death date corrected in a later drop",
            )
            k = int(rng.integers(2, b.drops + 1))
            b.emit(
                "vital_status",
                (*f[:4], p.index_day + p.death, f[5]),
                0,
                drop=k,
                kind="changed_value_delta",
                detail="corrected death date (current)",
            )
        else:
            b.vital(p, st, "dead", p.death)
        if p.index_day + p.death > P.day(P.ADMIN_END):
            b.rows["vital_status"][-1] = (
                *b.rows["vital_status"][-1][:-2],
                "death_after_admin_end",
                "death after the administrative end: censored",
            )
    else:
        b.vital(p, p.last_contact, "alive")
        if rng.random() < 0.04 and p.last_contact > 60:
            f = b.vital(p, p.last_contact - 20, "dead", p.last_contact - 25, drop=1)
            k = int(rng.integers(2, b.drops + 1)) if b.drops > 1 else 1
            if k == 1:
                b.rows["vital_status"].pop()
            b.emit(
                "vital_status",
                f,
                0,
                drop=k,
                deleted=1,
                kind="deleted_record",
                detail="erroneous death record deleted at the source",
            )


def build_analysed(b: Block, p: Person):
    rng, pk = b.rng, b.pick
    gi = P.GROUPS.index(p.group)
    adm = p.group.startswith("ADM")
    ts, lim = p.treat_start, _limit(p)
    b.patient(p)
    if "ra_ild_code" in p.decoys:
        code = pk(("M05.1", "M05.101", "m05.1"))
    elif p.control_dx in P.CTD_CODES and rng.random() < 0.3:
        code = "J99.1"
    else:
        code = pk(J84)
    b.dx(p, 0, code, pk(("间质性肺病", "ILD", "interstitial lung disease, NSIP?")))
    for _ in range(int(rng.integers(0, 3))):
        off = int(rng.integers(1, 600))
        if off <= lim:
            b.dx(p, off, pk(J84), "间质性肺病")
    if "earlier_ild_text" in p.decoys:
        b.dx(
            p,
            -60,
            "R91.8",
            '肺间质性改变, "ILD?" 待排',
            kind="free_text_ild_mention",
            detail="free text mentions ILD; the code does not",
        )
    if adm:
        off = int(rng.integers(-365, 60))
        if "dm_dx_p150" in p.decoys:  # after day 90 (not a CTD category) but within day 180
            off = min(150, P.day(P.LAST_EVENT) - p.index_day)
        b.dx(p, off, pk(DM_CODES), "皮肌炎 (amyopathic)", pk(("rheumatology", "dermatology")))
    cdx = p.control_dx
    if cdx in P.CTD_CODES:
        b.dx(p, int(rng.integers(-2000, 60)), pk(P.CTD_CODES[cdx]), cdx, "rheumatology")
        if "ra_two_codes" in p.decoys or "mctd_twice" in p.decoys:
            b.dx(
                p,
                int(rng.integers(-200, 60)),
                pk(P.CTD_CODES[cdx]),
                cdx,
                "rheumatology",
                kind="same_ctd_category_twice",
                detail="two codes of one CTD category",
            )
        if "sle_p91" in p.decoys:
            b.dx(
                p,
                91,
                "M32.9",
                "SLE",
                "rheumatology",
                kind="ctd_after_day_90",
                detail="second CTD dated index+91: not counted",
            )
    elif cdx == "MPA":
        b.dx(
            p,
            int(rng.integers(-300, 1)),
            pk(("M31.7", "M31.701")),
            "显微镜下多血管炎",
            "rheumatology",
        )
    elif cdx == "IPAF":
        b.finding(p, int(rng.integers(-100, 60)), "IPAF_CRITERIA_MET", True, "IPAF (2015 ERS/ATS)")
    if "ipaf_p91" in p.decoys:
        b.finding(
            p,
            91,
            "IPAF_CRITERIA_MET",
            True,
            kind="finding_after_window",
            detail="IPAF finding at index+91",
        )
    if "ipaf_absent" in p.decoys:
        b.finding(p, 5, "IPAF_CRITERIA_MET", False, kind="finding_absent", detail="present = 0")
    if "late_dm" in p.decoys:
        b.dx(
            p,
            200,
            "M33.1",
            "皮肌炎",
            "dermatology",
            kind="dm_dx_after_day_180",
            detail="DM diagnosis too late for ADM",
        )
        b.finding(p, -10, "HELIOTROPE_RASH", True)
    if "mech_hands_control" in p.decoys:
        b.finding(
            p,
            -5,
            "MECHANIC_HANDS",
            True,
            "技工手",
            kind="skin_finding_without_dm",
            detail="DM skin sign without a DM diagnosis: control",
        )
    for _ in range(int(rng.integers(0, 3))):
        c, t = pk(COMORBID)
        b.dx(p, int(rng.integers(-1500, max(-1499, min(lim, 900)))), c, t, "internal medicine")
    for k, code, off, kind in (
        ("malig_m366", "C34.1", -366, "malignancy_outside_window"),
        ("malig_p91", "C50.9", 91, "malignancy_outside_window"),
        ("neoplasm_d48", "D48.1", 0, "neoplasm_not_malignant"),
    ):
        if k in p.decoys:
            b.dx(p, off, code, "neoplasm", "oncology", kind=kind, detail=f"{code} at day {off}")
    if "malig_deleted" in p.decoys:
        b.dx(p, 10, "C34.1", "肺癌? (entered in error)", "oncology", drop=1)
        f = b.rows["diagnoses"][-1]
        k = int(rng.integers(2, b.drops + 1)) if b.drops > 1 else 1
        if k == 1:
            b.rows["diagnoses"].pop()
        b.emit(
            "diagnoses",
            f[:7],
            0,
            drop=k,
            deleted=1,
            kind="deleted_record",
            detail="malignancy diagnosis deleted at the source",
        )
    # findings
    room = min(171, P.day(P.LAST_EVENT) - p.index_day + 1)
    for code in p.skin:
        b.finding(
            p, int(rng.integers(-200, room)), code, True, pk(("皮疹", 'rash, "violaceous"', ""))
        )
    if adm and rng.random() < 0.15:
        miss = [c for c in ("GOTTRON_SIGN", "HELIOTROPE_RASH", "V_SIGN") if c not in p.skin]
        if miss:
            late = rng.random() < 0.5  # present after day 180, or recorded absent near index
            b.finding(
                p,
                200 if late else 3,
                miss[0],
                late,
                kind="skin_finding_not_counted",
                detail="after day 180 or recorded absent",
            )
    if "muscle_absent" in p.decoys:
        b.finding(
            p,
            2,
            "MUSCLE_WEAKNESS",
            False,
            "no weakness",
            kind="finding_absent",
            detail="muscle weakness recorded absent",
        )
    if "myalgia_m200" in p.decoys:
        b.finding(p, -200, "MYALGIA", True, kind="finding_outside_window", detail="day -200")
    if p.systemic:
        for c in rng.choice(SYSTEMIC, size=int(rng.integers(1, 3)), replace=False):
            b.finding(p, int(rng.integers(-150, 26)), str(c), True)
    elif rng.random() < 0.25:
        c = str(pk(SYSTEMIC))
        if rng.random() < 0.5:
            b.finding(
                p,
                int(rng.integers(-20, 10)),
                c,
                False,
                kind="finding_absent",
                detail="systemic symptom recorded absent",
            )
        else:
            b.finding(
                p,
                pk((-200, 40)),
                c,
                True,
                kind="finding_outside_window",
                detail="systemic symptom outside [-180, +30]",
            )
    # labs
    for a in (x for x in NUMERIC_ANALYTES if x not in BLOOD_GAS_ANALYTES):
        serial_numeric(b, p, a, p.values.get(a), ts, gi)
    if "ck_high_p200" in p.decoys and 200 <= lim:
        b.numeric(
            p,
            200,
            "CK",
            260.0,
            force_canonical=True,
            kind="ck_high_outside_window",
            detail="CK above ULN at day 200",
        )
    _blood_gas(b, p, gi)
    hi = _hi(p, ts)
    d0 = _bounded_day(b, p, -30, hi)
    b.lab(p, d0, "ANA", pk(ANA_POS if p.ana_pos else ANA_NEG))
    if rng.random() < 0.3:
        b.lab(p, int(rng.integers(40, 300)), "ANA", pk(ANA_POS + ANA_NEG))
    for a in P.ANTIBODIES:
        st = None if p.antibodies is None else p.antibodies[a]
        if a == "MDA5" and "mda5_weak" in p.decoys:
            st = "weak"
        grade_lab(b, p, a, st, ts)
    _value_extras(b, p)
    # lung function (never re-delivered: the table is omitted from delta drops)
    if p.pft:
        d = _bounded_day(b, p, -30, hi)
        b.emit(
            "pulmonary_function",
            (b.rid("pulmonary_function"), p.mrn, p.index_day + d, *(f"{x:.1f}" for x in p.pft)),
            p.index_day + d,
            drop=1,
        )
    if (p.pft and rng.random() < 0.4) or (not p.pft and rng.random() < 0.3):
        off = int(rng.integers(45, 400))
        if off <= lim and p.index_day + off <= P.day(P.LAST_EVENT):
            vals = [f"{rng.normal(75, 18):.1f}" for _ in range(3)]
            b.emit(
                "pulmonary_function",
                (b.rid("pulmonary_function"), p.mrn, p.index_day + off, *vals),
                p.index_day + off,
                drop=1,
            )
    _imaging_nsip_op(b, p)
    # medications
    if ts is not None:
        name, atc = pk(P.TREATMENTS)
        end = None if rng.random() < 0.5 else ts + int(rng.integers(30, 400))
        b.med(p, name, atc, ts, end)
    for _ in range(int(rng.integers(0, 3))):
        name, atc = pk(P.HARMLESS_DRUGS)
        b.med(p, name, atc, int(rng.integers(-700, 300)), None)
    for k, (name, atc, s, e) in (
        ("pred_end_m2", ("prednisone", "H02AB07", -300, -2)),
        ("pirfenidone_before", ("pirfenidone", "L04AX05", -100, None)),
        ("nintedanib", ("nintedanib", "L01EX09", -50, None)),
        ("mtx_m181", ("methotrexate", "L04AX03", -181, -100)),
        ("hydralazine_p30", ("hydralazine", "C02DB02", 30, None)),
    ):
        if k in p.decoys:
            b.med(
                p,
                name,
                atc,
                s,
                e,
                kind="treatment_rule_boundary",
                detail=f"{name} {s}..{e}: must not exclude",
            )
    if ts is None and rng.random() < 0.05:
        b.med(
            p,
            "pirfenidone",
            "L04AX05",
            1,
            None,
            kind="antifibrotic_not_treatment",
            detail="pirfenidone is not a treatment start",
        )
    _vital(b, p)

"""The rows of excluded screened patients (one variant per way of meeting a rule) and of
background persons who must never be screened."""

from __future__ import annotations

from ildwh.synth import params as P
from ildwh.synth.cohort import Person
from ildwh.synth.events import (
    ANA_NEG,
    ANA_POS,
    COMORBID,
    J84,
    NSIP_TXT,
    OP_TXT,
    Block,
)
from ildwh.synth.labs import _random_value, serial_numeric
from ildwh.synth.persons import PATTERN_OTHER, SYSTEMIC, _imaging_nsip_op

PRIOR = (
    ("prednisone", "H02AB07", -30, None),
    ("醋酸泼尼松", "", -60, -10),
    ("Medrol", "", -10, -5),
    ("cyclophosphamide", "L01AA01", -90, -60),
    ("环磷酰胺", "", -150, -120),
    ("tacrolimus", "L04AD02", -400, None),
    ("mycophenolate mofetil", "L04AA06", -300, -1),
    ("methotrexate", "L04AX03", -180, -170),
    (" Azathioprine ", "", -1, 20),
    ("甲泼尼龙", "", -45, -30),
    ("ciclosporin", "L04AD01", -200, 10),
    ("tofacitinib", "L04AF01", -20, None),
    ("dexamethasone", "H02AB02", -5, -4),
    ("PREDNISOLONE", "", -100, -50),
    ("prednisone", "H02AB07", -50, -20),
)
INDUCING = (
    ("hydroxyurea", "L01XX05", -500, -400),
    ("hydralazine", "C02DB02", 29, None),
    ("adalimumab", "L04AB04", -400, -300),
    ("异烟肼", "", -60, 100),
    ("penicillamine", "M01CC01", -900, -700),
    ("pembrolizumab", "L01FF02", -200, -190),
)
MALIG = (
    ("C34.1", -100),
    ("c50.9", 90),
    ("C34.901", -365),
    ("C18.7", 0),
    ("C61", 30),
    ("C85.9 ", -200),
    ("C91.0", 60),
    ("C73", -10),
    ("C16.9", -300),
    ("C97", 5),
)


def _pattern_exit_imaging(b: Block, p: Person):
    v, pk = p.variant, b.pick
    s0 = int(b.rng.integers(-20, 15))
    if v <= 5:
        b.image(p, s0, PATTERN_OTHER[v] if b.rng.random() < 0.8 else PATTERN_OTHER[v].upper())
    elif v == 6:
        b.image(p, s0, pk(NSIP_TXT), reader="R1")
        b.image(p, s0, "UIP", reader="R2")
    elif v == 7:
        b.image(p, s0, pk(NSIP_TXT), modality="CT")
    elif v == 8:
        b.image(p, -91, pk(NSIP_TXT))
    elif v == 9:
        b.image(p, 31, pk(OP_TXT))
    elif v == 11:
        b.image(p, s0, pk(NSIP_TXT), reader="R1")
    elif v == 12:
        b.image(p, -20, "UIP")
        b.image(p, 10, pk(NSIP_TXT))
    elif v == 13:
        b.image(p, -5, pk(OP_TXT), reader="R1")
        b.image(p, -5, pk(NSIP_TXT), reader="R2")
        b.image(p, 25, pk(NSIP_TXT))


def build_excluded(b: Block, p: Person):
    """A screened patient who leaves at the pattern step or at one of the exclusions."""
    rng, pk, v = b.rng, b.pick, p.variant
    b.patient(p)
    b.dx(p, 0, pk(J84), "间质性肺病")
    if rng.random() < 0.5:
        b.dx(p, int(rng.integers(1, 400)), pk(J84), "ILD")
    for a in ("WBC", "HB", "LDH", "ALB", "CK"):
        serial_numeric(b, p, a, p.values.get(a), p.treat_start, 1)
    b.lab(p, int(rng.integers(-10, 10)), "ANA", pk(ANA_POS + ANA_NEG))
    if p.exit == "pattern_not_nsip_op":
        _pattern_exit_imaging(b, p)
        if rng.random() < 0.15:  # meets a later rule too; counted here
            b.dx(
                p,
                -30,
                "C34.1",
                "肺癌",
                "oncology",
                kind="meets_two_rules",
                detail="also a malignancy; counted at the pattern step",
            )
    else:
        _imaging_nsip_op(b, p)
    e = p.exit
    if e == "iim_muscle_involvement":
        code = ("M33.1", "M33.201", "M60.8", "G72.4", "M33.9", "M33.1", "m33.101", "M33.0")[v]
        b.dx(p, int(rng.integers(-60, 30)), code, "myositis", "rheumatology")
        if v == 0:
            b.numeric(p, 3, "CK", 450.0, force_canonical=True)
        elif v == 1:
            b.finding(p, -20, "MUSCLE_WEAKNESS", True, "近端肌无力")
        elif v == 2:
            b.lab(p, -10, "CK", "6.5", unit="ukat/L", code="BIO020")
        elif v == 3:
            b.finding(p, 100, "MYALGIA", True)
        elif v == 4:
            b.lab(
                p,
                5,
                "CK",
                "180",
                unit="U/L",
                code="BIO020",
                ref="26-174",
                flag="H",
                kind="ck_above_row_uln",
                detail="180 U/L above the row's own ULN 174",
            )
        elif v == 5:
            b.finding(p, 170, "MYOSITIS_ON_MRI_OR_EMG", True, "MRI: 大腿肌群水肿")
        elif v == 6:
            b.numeric(p, -150, "CK", 2500.0, force_canonical=True)
            b.dx(
                p,
                0,
                "C34.1",
                "肺癌",
                "oncology",
                kind="meets_two_rules",
                detail="also a malignancy; counted at rule 1",
            )
        else:
            b.numeric(p, -60, "CK", 230.0, force_canonical=True)
    elif e == "malignancy":
        code, off = MALIG[v]
        b.dx(p, off, code, "恶性肿瘤", "oncology")
        if v == 3:
            b.dx(p, -100, "M06.9", "RA", "rheumatology")
            b.dx(
                p,
                -50,
                "M32.9",
                "SLE",
                "rheumatology",
                kind="meets_two_rules",
                detail="also two CTDs; counted at malignancy",
            )
    elif e == "multiple_ctd":
        pairs = (
            (("M06.9", -200), ("M32.9", 10)),
            (("M34.9", 90),),
            (("M33.1", -30), ("M35.0", -100)),
            (("M35.1", -500), ("M34.1", 20)),
        )[v]
        if v == 1:
            b.dx(p, 1, "M05.1", "类风湿关节炎肺间质病变", "rheumatology")
        for code, off in pairs:
            b.dx(p, off, code, "CTD", "rheumatology")
    elif e == "prior_treatment":
        name, atc, s, en = PRIOR[v]
        b.med(p, name, atc, s, en)
        if v == 14:
            b.med(
                p,
                "hydroxyurea",
                "L01XX05",
                -300,
                -200,
                kind="meets_two_rules",
                detail="also a cutaneous-CTD-inducing drug; counted at rule 4",
            )
    elif e == "drug_induced":
        name, atc, s, en = INDUCING[v]
        b.med(p, name, atc, s, en)
    if p.treat_start is not None:
        name, atc = pk(P.TREATMENTS)
        b.med(p, name, atc, p.treat_start, None)
    b.vital(p, p.last_contact, "alive")


def build_background(b: Block, p: Person, rates: dict[str, float]):
    """A person who must never be screened; hosts most value-level defects."""
    rng, pk, v = b.rng, b.pick, p.variant
    b.patient(p)
    for _ in range(int(rng.integers(1, 3))):
        c, t = pk(COMORBID)
        b.dx(p, int(rng.integers(-400, 1)), c, t, "internal medicine")
    w0, w1 = P.day(P.WINDOW_START), P.day(P.WINDOW_END)
    if v == 1:  # prevalent ILD: first ILD code before the window, later ones inside it
        first = int(rng.integers(P.day(P.dt.date(2014, 1, 1)), w0 - 1))
        b.dx(
            p,
            first - p.index_day,
            pk(J84),
            "ILD",
            kind="prevalent_ild",
            detail="earliest ILD code before 2017",
        )
        b.dx(p, int(rng.integers(w0, w1)) - p.index_day, pk(J84), "ILD")
    elif v == 2:
        b.dx(
            p,
            P.day(P.dt.date(2023, 1, 3)) - p.index_day,
            "J84.1",
            "ILD",
            kind="ild_after_window",
            detail="ILD code after 2022",
        )
    elif v == 3:
        b.dx(
            p,
            0,
            "R91.8",
            '双肺间质性改变,\n考虑"间质性肺病"',
            kind="free_text_ild_mention",
            detail="free text only",
        )
    elif v == 4:
        b.dx(
            p,
            0,
            pk(("J98.4", "J99.8", "M05.9")),
            "near-miss code",
            kind="near_miss_code",
            detail="not an ILD code",
        )
    elif v == 5:
        b.dx(
            p,
            w0 - 1 - p.index_day,
            "J84.1",
            "ILD",
            kind="prevalent_ild",
            detail="ILD on 2016-12-31",
        )
    elif v == 7:
        b.dx(
            p,
            0,
            "R06.0",
            "dyspnoea; J84? ILD suspected",
            kind="free_text_ild_mention",
            detail="ILD code only in free text",
        )
    for _ in range(int(rng.integers(6, 16))):
        a = pk(("WBC", "HB", "PLT", "ALT", "AST", "LDH", "CK", "ALB", "HSCRP", "ESR"))
        b.numeric(p, int(rng.integers(-300, 300)), a, _random_value(b, p, a))
    for kind, prob, args in (
        (
            "unmapped_lab_code",
            rates["unmapped_lab_code"],
            ("_", "7.1", "10^9/L", "XN-NEUT", "中性粒细胞"),
        ),
        (
            "unit_not_convertible",
            rates["unit_not_convertible"],
            ("LDH", "3.1", "mmol/L", "BIO022", None),
        ),
        (
            "implausible_value",
            rates["implausible_value"] / 2,
            ("LDH", "99999", "U/L", "BIO022", None),
        ),
        ("implausible_value", rates["implausible_value"] / 2, ("HB", "1.2", "g/L", "HEM002", None)),
        (
            "non_numeric_result",
            rates["non_numeric_result"],
            ("AST", "see note", "U/L", "BIO002", None),
        ),
        ("qualified_result", rates["qualified_result"], ("HSCRP", ">200", "mg/L", "IMM010", None)),
    ):
        if rng.random() < prob or p.n % 97 == hash_kind(kind):
            a, text, unit, code, name = args
            kw = {"name": name} if name else {}
            b.lab(
                p,
                int(rng.integers(-100, 100)),
                a,
                text,
                unit=unit,
                code=code,
                ref="",
                kind=kind,
                detail=f"{code} {text!r} {unit}",
                **kw,
            )
    if rng.random() < 0.1:
        b.finding(p, int(rng.integers(-50, 50)), pk(SYSTEMIC), bool(rng.random() < 0.5))
    if rng.random() < 0.2:
        name, atc = pk(P.HARMLESS_DRUGS + (("未知中药", ""),))
        b.med(p, name, atc, int(rng.integers(-300, 100)), None)
    if rng.random() < 0.2:
        b.vital(p, int(rng.integers(0, 300)), "alive")


def hash_kind(kind: str) -> int:
    """A fixed small number per kind so every block plants each value-level defect at least once."""
    return sum(map(ord, kind)) % 97

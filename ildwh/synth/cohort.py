"""Plan one block of persons (one scale-1 cohort plus its background): who they are and what the
protocol should find for them. `events.py` turns the plan into table rows; `truth.py` recomputes the
protocol from those rows, so a plan that the rows do not honour is caught.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ildwh.synth import params as P

N_PATTERN_VARIANTS = 14
N_IIM_VARIANTS = 8
N_MALIG_VARIANTS = 10
N_CTD_VARIANTS = 4
N_PRIOR_VARIANTS = 15
N_DRUG_VARIANTS = 6
N_BACKGROUND_VARIANTS = 8


@dataclass
class Person:
    """One generated person; offsets are days relative to the index date."""

    mrn: str
    n: int  # ordinal in the block
    screened: bool
    index_day: int = 0
    exit: str | None = None  # exit_reason as the protocol should find it
    variant: int = 0  # which way the person meets (or misses) their rule
    group: str | None = None
    control_dx: str | None = None
    pattern: str = "NSIP"  # NSIP / OP for everyone past the pattern step
    sex: str = "F"
    age: int = 60
    smoking: str = "never"
    systemic: bool = False
    ana_pos: bool = False
    skin: list[str] = field(default_factory=list)
    antibodies: dict[str, str] | None = None  # analyte -> 'pos'/'weak'/'neg'; None: not tested
    values: dict[str, float] = field(default_factory=dict)  # canonical baseline values
    fio2: float | None = None
    pft: tuple[float, float, float] | None = None
    treat_start: int | None = None  # offset of first treatment on/after index
    death: int | None = None  # offset of death (may be after the admin end)
    last_contact: int = 0  # offset of the last alive contact
    decoys: list[str] = field(default_factory=list)
    iim_dx: bool = False  # carries an IIM code while not an IIM exit: CK must stay <= ULN


class _Dist:
    """Normal or lognormal (matched to mean and SD) quantile and distribution functions."""

    def __init__(self, kind: str, mean: float, sd: float):
        self.log = kind == "logn"
        if self.log:
            s2 = math.log(1 + (sd / mean) ** 2)
            self.mu, self.s = math.log(mean) - s2 / 2, math.sqrt(s2)
        else:
            self.mu, self.s = mean, sd

    def ppf(self, u):
        z = self.mu + self.s * special.ndtri(u)
        return np.exp(z) if self.log else z

    def cdf(self, x):
        if self.log:
            x = np.log(x) if x > 0 else -np.inf
        return float(special.ndtr((x - self.mu) / self.s))


def _dist(kind: str, mean: float, sd: float) -> _Dist:
    return _Dist(kind, mean, sd)


def strat_sample(rng, kind, mean, sd, n, lo, hi, bins=None):
    """Stratified sample of size n (optionally with fixed counts per bin of edges), clipped."""
    d = _dist(kind, mean, sd)
    if n == 0:
        return np.zeros(0)
    if bins is None:
        u = (rng.permutation(n) + rng.uniform(0.05, 0.95, n)) / n
        x = d.ppf(u)
    else:
        edges, counts = bins
        parts = []
        for (a, b), k in zip(zip(edges[:-1], edges[1:], strict=True), counts, strict=True):
            fa, fb = d.cdf(a), d.cdf(b)
            u = fa + (fb - fa) * (np.arange(k) + rng.uniform(0.05, 0.95, k)) / max(k, 1)
            x = np.round(d.ppf(u))  # binned analytes (LDH) are integers: keep them in their bin
            parts.append(
                np.clip(
                    x,
                    np.floor(a) + 1 if np.isfinite(a) else -np.inf,
                    np.floor(b) if np.isfinite(b) else np.inf,
                )
            )
        x = rng.permutation(np.concatenate(parts))
    return np.clip(x, lo, hi)


def _exact_flags(rng, n: int, k: int) -> np.ndarray:
    f = np.zeros(n, dtype=bool)
    f[rng.choice(n, size=k, replace=False)] = True
    return f


def _surv_inverse(knots, u: float) -> float | None:
    """Months t with S(t) = u on the piecewise-linear curve; None when u is below the last knot."""
    for (t0, s0), (t1, s1) in zip(knots[:-1], knots[1:], strict=True):
        if s1 < s0 and s1 <= u <= s0:
            return t0 + (s0 - u) / (s0 - s1) * (t1 - t0)
    return None


def plan_block(rng: np.random.Generator, block: int, background: int) -> list[Person]:
    people: list[Person] = []
    # index dates leave room for the rows each person needs after the index (<= LAST_EVENT)
    start, end = P.day(P.WINDOW_START), P.day(P.dt.date(2022, 9, 30))

    def new(screened: bool) -> Person:
        p = Person(mrn=f"NB{block:04d}{len(people):05d}", n=len(people), screened=screened)
        people.append(p)
        return p

    # ---- analysed patients, by group
    for gi, g in enumerate(P.GROUPS):
        n = P.GROUP_N[g]
        members = [new(True) for _ in range(n)]
        dxs = [k for k, v in P.CONTROL_DX.get(g, {}).items() for _ in range(v)]
        male = _exact_flags(rng, n, P.SEX_MALE[gi])
        smoke = _exact_flags(rng, n, P.SMOKERS[gi])
        syst = _exact_flags(rng, n, P.SYSTEMIC[gi])
        ana = _exact_flags(rng, n, P.ANA_POS[gi])
        bg = _exact_flags(rng, n, P.N_BLOOD_GAS[gi])
        pft = _exact_flags(rng, n, P.N_PFT[gi])
        vals = {}
        for a, (kind, ms, _dec, lo, hi) in P.CONT.items():
            m, s = ms[gi]
            bins = None
            if a == "LDH":
                c = P.LDH_BINS[g]
                bins = (
                    ((-np.inf, 211, 235.5, np.inf), c)
                    if c[1]
                    else ((-np.inf, 235.5, np.inf), (c[0], c[2]))
                )
            nn = {"PAO2": int(bg.sum()), "LACTATE": int(bg.sum())}.get(a, n)
            nn = {"fev1": int(pft.sum()), "fvc": int(pft.sum()), "dlco": int(pft.sum())}.get(a, nn)
            vals[a] = strat_sample(rng, kind, m, s, nn, lo, hi, bins)
        # OI = PaO2 / FiO2: sample OI at its published mean/SD, pair it with PaO2 by rank, and
        # derive FiO2 (>= 0.21, two decimals) from the pair
        oi = np.sort(
            strat_sample(rng, "norm", P.OI_TARGET[gi], P.OI_SD[gi], int(bg.sum()), 150, 650)
        )
        order = np.argsort(vals["PAO2"] + rng.normal(0, 4, len(vals["PAO2"])))
        oi_for = np.empty_like(oi)
        oi_for[order] = oi
        adm = g.startswith("ADM")
        gj = 0 if g == "ADM-NSIP" else 1
        if adm:
            skin = _adm_skin(rng, n, gj)
            abs_ = {a: _exact_flags(rng, n, c[gj]) for a, c in P.ADM_ANTIBODIES.items()}
        ferr_tested = rng.random(n) < P.FERRITIN_TESTED[gi]
        ib = ip = 0
        for i, p in enumerate(members):
            p.group, p.exit = g, "analysed"
            p.pattern = "NSIP" if g.endswith("NSIP") else "OP"
            p.control_dx = None if adm else dxs[i]
            p.index_day = int(rng.integers(start, end + 1)) if (gi, i) != (1, 0) else start
            p.sex = "M" if male[i] else "F"
            p.smoking = ["former", "current"][int(rng.integers(2))] if smoke[i] else "never"
            p.systemic, p.ana_pos = bool(syst[i]), bool(ana[i])
            p.age = int(round(vals["age_years"][i]))
            for a in P.BASELINE_COLUMN:
                if a in ("PAO2", "LACTATE"):
                    continue
                p.values[a] = float(vals[a][i])
            if not ferr_tested[i]:
                p.values.pop("FERRITIN")
            if bg[i]:
                p.values["PAO2"] = float(vals["PAO2"][ib])
                p.values["LACTATE"] = float(vals["LACTATE"][ib])
                p.fio2 = max(0.21, round(float(vals["PAO2"][ib]) / float(oi_for[ib]), 2))
                ib += 1
            if pft[i]:
                p.pft = (float(vals["fev1"][ip]), float(vals["fvc"][ip]), float(vals["dlco"][ip]))
                ip += 1
            if adm:
                p.skin = skin[i]
                p.antibodies = {a: ("pos" if abs_[a][i] else "neg") for a in P.ANTIBODIES}
                p.iim_dx = True
                p.values["CK"] = min(p.values["CK"], 150 + 35 * rng.random())
            elif rng.random() < 0.5:
                p.antibodies = {a: _control_ab(rng, a, p.control_dx) for a in P.ANTIBODIES}
            if rng.random() < 0.55:
                p.treat_start = int(rng.choice([0, 0, 1, 1, 2, 3, 5, 7, 10, 14, 20]))
        _simulate_survival(rng, members, g)

    # ---- excluded screened patients
    for reason, n in P.EXITS:
        nv = {
            "pattern_not_nsip_op": N_PATTERN_VARIANTS,
            "iim_muscle_involvement": N_IIM_VARIANTS,
            "malignancy": N_MALIG_VARIANTS,
            "multiple_ctd": N_CTD_VARIANTS,
            "prior_treatment": N_PRIOR_VARIANTS,
            "drug_induced": N_DRUG_VARIANTS,
        }[reason]
        for j in range(n):
            p = new(True)
            p.exit, p.variant = reason, (block * n + j) % nv
            p.index_day = int(rng.integers(start, end - 92 + 1))
            p.pattern = "OP" if rng.random() < 0.3 else "NSIP"
            p.sex = "M" if rng.random() < 0.5 else "F"
            p.age = int(np.clip(rng.normal(62, 13), 20, 90))
            p.smoking = str(rng.choice(["never", "former", "current", "unknown"]))
            p.last_contact = int(min(P.day(P.LAST_EVENT) - p.index_day, rng.integers(30, 2000)))
            for a in P.BASELINE_COLUMN:
                kind, ms, _d, lo, hi = P.CONT[a]
                p.values[a] = float(strat_sample(rng, kind, *ms[1], 1, lo, hi)[0])
            p.values.pop("FERRITIN")
            if reason == "multiple_ctd" and p.variant == 2:  # DM + pSS: CK must stay <= ULN
                p.iim_dx = True
                p.values["CK"] = min(p.values["CK"], 150 + 35 * rng.random())
            if rng.random() < 0.4:
                p.treat_start = int(rng.integers(0, 15))
    # window boundaries: one analysed at the first window day (above), one pattern exit at the last
    pat = [p for p in people if p.exit == "pattern_not_nsip_op"]
    pat[0].index_day = P.day(P.WINDOW_END)
    pat[0].variant = 10  # no imaging at all
    _assign_decoys(rng, people)

    # ---- background persons (never screened)
    for j in range(background * P.N_SCREENED):
        p = new(False)
        p.variant = (block + j) % N_BACKGROUND_VARIANTS
        p.index_day = int(
            rng.integers(P.day(P.dt.date(2014, 1, 1)), P.day(P.dt.date(2022, 12, 20)))
        )
        p.sex = str(rng.choice(["M", "F", "U"], p=[0.48, 0.48, 0.04]))
        p.age = int(np.clip(rng.normal(55, 16), 1, 95))
        p.smoking = str(rng.choice(["never", "former", "current", "unknown", ""]))
    return people


def _adm_skin(rng, n: int, gj: int) -> list[list[str]]:
    skin: list[list[str]] = [[] for _ in range(n)]
    helio = _exact_flags(rng, n, P.SKIN["heliotrope"][gj])
    gott = _exact_flags(rng, n, P.SKIN["gottron"][gj])
    minor = np.flatnonzero(_exact_flags(rng, n, P.SKIN["minor"][gj]))
    for i in range(n):
        if helio[i]:
            skin[i].append("HELIOTROPE_RASH")
        if gott[i]:
            skin[i].append(["GOTTRON_SIGN", "GOTTRON_PAPULES"][int(rng.integers(2))])
    # minor findings: the printed breakdown (24) over the minor patients of both groups (16 + 7)
    pool = [k for k, v in P.MINOR_BREAKDOWN.items() for _ in range(v)]
    order = np.random.default_rng(7).permutation(len(pool))
    pool = [pool[i] for i in order]
    mine = pool[:16] if gj == 0 else pool[16:]  # NSIP gets 16 singles, OP 7 + 1 extra
    for k, i in enumerate(minor):
        skin[i].append(mine[k])
    if gj == 1:
        extra = mine[7]
        first = next(i for i in minor if extra not in skin[i])
        skin[first].append(extra)
    for i in range(n):
        if not skin[i] or rng.random() < 0.1:
            skin[i].append("OTHER_DM_RASH")
    return skin


def _control_ab(rng, a: str, dx: str | None) -> str:
    p = {
        ("SSA", "pSS"): 0.7,
        ("RO52", "pSS"): 0.5,
        ("RO52", "SSc"): 0.3,
        ("U1RNP", "MCTD"): 1.0,
        ("JO1", "IPAF"): 0.2,
        ("PL7", "IPAF"): 0.15,
        ("SSA", "SLE"): 0.3,
    }.get((a, dx), 0.02)
    r = rng.random()
    return "pos" if r < p else ("weak" if r < p + 0.03 else "neg")


def _simulate_survival(rng, members: list[Person], g: str) -> None:
    """Death times from a proportional-hazards model around the group's published KM curve."""
    knots = P.SURV_KNOTS[g]
    n = len(members)
    if g.startswith("ADM"):
        c = P.COX_LOGHR
        lp = np.array(
            [
                c["age"] * (p.age - 58)
                + c["smoking"] * (p.smoking != "never")
                + c["mda5"] * (p.antibodies["MDA5"] == "pos")
                + c["wbc"] * (p.values["WBC"] - 6.9)
                for p in members
            ]
        )
    else:
        lp = np.array([0.03 * (p.age - 63) for p in members])
    u = (rng.permutation(n) + rng.uniform(0.02, 0.98, n)) / n
    # centre the linear predictor so the group's survival at 60 months matches the curve
    s36 = float(np.interp(60, [k[0] for k in knots], [k[1] for k in knots]))
    lo_c, hi_c = -10.0, 10.0
    for _ in range(60):
        cc = (lo_c + hi_c) / 2
        if np.mean(s36 ** np.exp(lp - cc)) < s36:
            lo_c = cc
        else:
            hi_c = cc
    hr = np.exp(lp - (lo_c + hi_c) / 2)
    admin = P.day(P.ADMIN_END)
    for p, ui, h in zip(members, u, hr, strict=True):
        t = _surv_inverse(knots, float(ui ** (1 / h)))
        span = admin - p.index_day
        if t is not None and t * 30.4375 <= span + 9:
            p.death = max(1, int(round(t * 30.4375)))
        lost = rng.random() < 0.08 and span > 60
        p.last_contact = int(rng.integers(30, span)) if lost else span + int(rng.integers(-25, 9))
        if p.death is not None:
            p.last_contact = min(p.last_contact, p.death - 1)
    if g == "control-NSIP":  # one death a few days after the administrative end: censored
        p = next(p for p in members if p.death is None and p.last_contact >= admin - p.index_day)
        p.death = admin - p.index_day + 4
        p.last_contact = p.death - 1


DECOYS_ANALYSED = (
    "malig_m366",
    "malig_p91",
    "neoplasm_d48",
    "malig_deleted",
    "pred_end_m2",
    "pirfenidone_before",
    "nintedanib",
    "mtx_m181",
    "hydralazine_p30",
    "earlier_ild_text",
    "hrct_m90",
    "hrct_p30",
    "consensus_overrides",
    "pattern_corrected",
    "uip_before_window",
)


def _assign_decoys(rng, people: list[Person]) -> None:
    # decoys go to patients with room for rows up to day +200 before the last event date
    early = P.day(P.dt.date(2022, 3, 1))
    analysed = [
        p
        for p in people
        if p.exit == "analysed"
        and p.index_day <= early
        and (p.death is None or p.death > 210)
        and p.last_contact > 210
    ]
    picks = rng.choice(len(analysed), size=len(DECOYS_ANALYSED), replace=False)
    for k, i in zip(DECOYS_ANALYSED, picks, strict=True):
        analysed[i].decoys.append(k)
    adm = [p for p in analysed if p.group.startswith("ADM") and not p.decoys]
    for k, p in zip(
        ("muscle_absent", "ck_high_p200", "myalgia_m200", "dm_dx_p150", "mda5_weak"),
        adm,
        strict=False,
    ):
        p.decoys.append(k)
    for dx, k in (
        ("RA", "sle_p91"),
        ("IIP", "ipaf_p91"),
        ("IIP", "ipaf_absent"),
        ("IIP", "late_dm"),
        ("IPAF", "mech_hands_control"),
        ("MCTD", "mctd_twice"),
        ("RA", "ra_two_codes"),
    ):
        cand = [p for p in analysed if p.control_dx == dx and not p.decoys]
        if cand:
            cand[0].decoys.append(k)
            if k == "late_dm":
                cand[0].iim_dx = True
                cand[0].values["CK"] = min(cand[0].values["CK"], 150 + 35 * rng.random())
    for p in people:
        if p.exit != "analysed":
            continue
        if p.control_dx == "RA" and rng.random() < 0.4:
            p.decoys.append("ra_ild_code")  # the ILD code is M05.1 (rheumatoid lung)
        if p.group.startswith("ADM") and "mda5_weak" in p.decoys and p.antibodies["MDA5"] == "pos":
            p.decoys.remove("mda5_weak")

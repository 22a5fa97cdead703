"""The study protocol (study-protocol.md), computed in pandas from the delivered semantic rows.

This is the generator's own reference implementation: it sees every delivered version of every record
(as the warehouse would after the last drop), resolves the current state by the contract's rules,
and applies the protocol. The plan in `cohort.py` is then checked against it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ildwh.synth import params as P

COLS = {
    "patients": ["record_id", "mrn", "name", "id_number", "phone", "sex", "birth", "smoking"],
    "diagnoses": ["record_id", "mrn", "day", "code", "text", "department", "dx_type"],
    "clinical_findings": ["record_id", "mrn", "day", "code", "present", "note"],
    "lab_results": ["record_id", "mrn", "sec", "code", "name", "result", "unit", "ref", "flag"],
    "pulmonary_function": ["record_id", "mrn", "day", "fev1", "fvc", "dlco"],
    "imaging": ["record_id", "mrn", "day", "modality", "reader", "pattern", "report"],
    "medications": ["record_id", "mrn", "drug", "atc", "start", "end", "route"],
    "vital_status": ["record_id", "mrn", "day", "status", "death", "source"],
}
META = ["_drop", "_upd", "_deleted", "_kind", "_detail"]
HALLMARK = ("HELIOTROPE_RASH", "GOTTRON_SIGN", "GOTTRON_PAPULES")
MINOR = (
    "MECHANIC_HANDS",
    "V_SIGN",
    "HOLSTER_SIGN",
    "SHAWL_SIGN",
    "CUTANEOUS_ULCER",
    "POIKILODERMA",
    "PERIUNGUAL_ERYTHEMA",
)
SYSTEMIC = ("FEVER", "RAYNAUD", "ARTHRALGIA", "ARTHRITIS", "WEIGHT_LOSS", "FATIGUE")
NUM_RE = re.compile(r"^(<=|>=|<|>|≤|≥)?\s*([0-9]+(?:\.[0-9]+)?)$")
TITRE_RE = re.compile(r"^(<|>)?1:([0-9]+)$")


def current(rows: list[tuple], table: str) -> pd.DataFrame:
    """Current state: latest updated_at per record_id (ties: later drop), deleted records removed."""
    df = pd.DataFrame(rows, columns=COLS[table] + META)
    df = df.sort_values(["record_id", "_upd", "_drop"], kind="stable")
    df = df.drop_duplicates("record_id", keep="last")
    return df[df["_deleted"] == 0].reset_index(drop=True)


def parse_number(text: str) -> float | None:
    t = text.strip().replace(",", ".")
    m = NUM_RE.match(t)
    return float(m.group(2)) if m else None


def ref_high(text: str) -> float | None:
    t = text.replace("U/L", "").strip()
    m = re.match(r"^[0-9.]+\s*[-~]\s*([0-9.]+)$", t) or re.match(r"^<\s*([0-9.]+)$", t)
    return float(m.group(1)) if m else None


def grade(text: str) -> str | None:
    t = text.strip().lower()
    if t in ("+", "++", "+++", "positive", "pos", "阳性"):
        return "pos"
    if t in ("+-", "weak", "弱阳性", "weak positive"):
        return "weak"
    if t in ("-", "negative", "neg", "阴性"):
        return "neg"
    return None


def ana_positive(text: str) -> bool | None:
    t = text.strip().lower()
    if t in ("negative", "阴性", "neg", "-"):
        return False
    m = TITRE_RE.match(t)
    if not m:
        return None
    return m.group(1) != "<" and int(m.group(2)) >= 80


def _norm_code(s: pd.Series) -> pd.Series:
    return s.str.strip().str.upper()


def _starts(codes: pd.Series, prefixes) -> pd.Series:
    return codes.str.startswith(tuple(prefixes))


def norm_pattern(t: str) -> str:
    t = t.strip().lower()
    if t in ("nsip", "fnsip", "cellular nsip", "nsip/op"):
        return "NSIP"
    if t in ("op", "cop-like", "op/nsip"):
        return "OP"
    return "other"


def compute(rows: dict[str, list[tuple]]) -> pd.DataFrame:
    """One row per person (mrn) with the protocol's answers."""
    cur = {t: current(r, t) for t, r in rows.items()}
    pat = cur["patients"].sort_values(["mrn", "_upd", "_drop"]).drop_duplicates("mrn", keep="last")
    out = pd.DataFrame({"mrn": pd.Series(sorted(pat["mrn"].unique()))})
    dx = cur["diagnoses"].copy()
    dx["ncode"] = _norm_code(dx["code"])
    ild = dx[_starts(dx["ncode"], P.ILD_PREFIXES)]
    idx = ild.groupby("mrn")["day"].min()
    out["index_day"] = out["mrn"].map(idx)
    w0, w1 = P.day(P.WINDOW_START), P.day(P.WINDOW_END)
    out["screened"] = out["index_day"].between(w0, w1)
    scr = out[out["screened"]].set_index("mrn")
    ix = scr["index_day"]

    def rel(df, col="day"):
        d = df[df["mrn"].isin(ix.index)].copy()
        d["off"] = d[col] - d["mrn"].map(ix)
        return d

    # pattern
    im = rel(cur["imaging"])
    im = im[(im["modality"].str.strip().str.upper() == "HRCT") & im["off"].between(-90, 30)]
    first = im.groupby("mrn")["day"].transform("min")
    im = im[im["day"] == first]
    im["np"] = im["pattern"].map(norm_pattern)
    patt = {}
    for mrn, g in im.groupby("mrn"):
        cons = g[g["reader"] == "consensus"]
        r1, r2 = g[g["reader"] == "R1"], g[g["reader"] == "R2"]
        if len(cons):
            patt[mrn] = cons["np"].iloc[-1]
        elif len(r1) and len(r2) and set(r1["np"]) == set(r2["np"]) and r1["np"].nunique() == 1:
            patt[mrn] = r1["np"].iloc[0]
    scr["hrct_pattern"] = [patt.get(m, "other") for m in scr.index]
    # rule inputs
    d = rel(dx)
    iim_dx = set(d.loc[_starts(d["ncode"], P.IIM_PREFIXES), "mrn"])
    lab = rel(cur["lab_results"], "sec")
    lab["off"] = np.floor_divide(lab["sec"], 86400) - lab["mrn"].map(ix)
    lab["analyte"] = lab["code"].str.strip().map(P.CODE_ANALYTE)
    lab["num"] = lab["result"].map(parse_number)
    lab["factor"] = [
        P.UNIT_FACTOR.get((a, u.strip())) if isinstance(a, str) else None
        for a, u in zip(lab["analyte"], lab["unit"], strict=True)
    ]
    lab["value"] = lab["num"] * pd.to_numeric(lab["factor"])
    ck = lab[(lab["analyte"] == "CK") & lab["off"].between(-180, 180) & lab["value"].notna()]
    uln = ck["ref"].map(ref_high).fillna(190.0)
    ck_high = set(ck.loc[ck["value"] > uln, "mrn"])
    fi = rel(cur["clinical_findings"])
    mus = fi[
        fi["code"].isin(("MUSCLE_WEAKNESS", "MYALGIA", "MYOSITIS_ON_MRI_OR_EMG"))
        & fi["present"]
        & fi["off"].between(-180, 180)
    ]
    rule1 = iim_dx & (ck_high | set(mus["mrn"]))
    mal = d[d["ncode"].str.match(r"^C([0-8][0-9]|9[0-7])") & d["off"].between(-365, 90)]
    rule2 = set(mal["mrn"])
    cat = pd.Series(None, index=d.index, dtype=object)
    for c, prefs in P.CTD_PREFIXES.items():
        cat[_starts(d["ncode"], prefs)] = c
    d["cat"] = cat
    cats = (
        d[d["cat"].notna() & (d["off"] <= 90)].groupby("mrn")["cat"].agg(lambda s: sorted(set(s)))
    )
    rule3 = {m for m, c in cats.items() if len(c) >= 2}
    md = rel(cur["medications"], "start")
    atc = md["atc"].str.strip().str.upper()
    byname = md["drug"].str.strip().str.lower().map(P.DRUG_NAMES)
    md["ratc"] = atc.where(atc != "", byname).fillna("")
    md["end_off"] = md["end"] - md["mrn"].map(ix)
    treat = _starts(md["ratc"], P.TREATMENT_ATC) & ~_starts(md["ratc"], P.TREATMENT_EXCEPT)
    tm = md[treat]
    r4 = tm[
        tm["off"].between(-180, -1)
        | ((tm["off"] < -180) & (tm["end"].isna() | (tm["end_off"] >= -1)))
    ]
    rule4 = set(r4["mrn"])
    rule5 = set(md.loc[_starts(md["ratc"], P.INDUCING_ATC) & (md["off"] < 30), "mrn"])
    ts = tm[tm["off"] >= 0].groupby("mrn")["off"].min()
    exits = []
    for m, row in scr.iterrows():
        if row["hrct_pattern"] == "other":
            exits.append("pattern_not_nsip_op")
        elif m in rule1:
            exits.append("iim_muscle_involvement")
        elif m in rule2:
            exits.append("malignancy")
        elif m in rule3:
            exits.append("multiple_ctd")
        elif m in rule4:
            exits.append("prior_treatment")
        elif m in rule5:
            exits.append("drug_induced")
        else:
            exits.append("analysed")
    scr["exit_reason"] = exits
    an = scr[scr["exit_reason"] == "analysed"].copy()
    A = an.index
    dmdx = set(d.loc[_starts(d["ncode"], P.DM_PREFIXES) & (d["off"] <= 180), "mrn"])
    skin = fi[fi["present"] & (fi["off"] <= 180)]
    dmskin = set(skin.loc[skin["code"].isin(HALLMARK + MINOR + ("OTHER_DM_RASH",)), "mrn"])
    an["is_adm"] = [m in dmdx and m in dmskin for m in A]
    an["analysis_group"] = [
        ("ADM-" if a else "control-") + pt
        for a, pt in zip(an["is_adm"], an["hrct_pattern"], strict=True)
    ]
    ipaf = set(
        fi.loc[(fi["code"] == "IPAF_CRITERIA_MET") & fi["present"] & (fi["off"] <= 90), "mrn"]
    )
    mpa = set(d.loc[_starts(d["ncode"], ("M31.7",)), "mrn"])
    cdx = []
    for m, row in an.iterrows():
        if row["is_adm"]:
            cdx.append(None)
        elif m in ipaf:
            cdx.append("IPAF")
        elif m in cats.index and len(cats[m]) == 1:
            cdx.append(cats[m][0])
        elif m in mpa:
            cdx.append("MPA")
        else:
            cdx.append("COP" if row["hrct_pattern"] == "OP" else "IIP")
    an["control_diagnosis"] = cdx
    _baseline(an, pat, lab, fi, rel(cur["pulmonary_function"]), ts, ix)
    _survival(an, cur, ix)
    out = out.set_index("mrn")
    for c in scr.columns:
        if c not in out.columns:
            out[c] = scr[c]
    for c in an.columns:
        if c not in scr.columns:
            out[c] = an[c]
    out["analysis_group"] = an["analysis_group"]
    return out.reset_index()


def _closest(
    df: pd.DataFrame, ix: pd.Series, ts: pd.Series, time_col: str, unit: int, by: str | None = None
) -> pd.DataFrame:
    """Baseline rule: closest to index in [-30, +30] days, before treatment start; ties earlier,
    then larger record_id as text. One row per mrn (per `by` value when given)."""
    df = df[df["mrn"].isin(ix.index)]
    idx = df["mrn"].map(ix)
    day = np.floor_divide(df[time_col], unit) - idx
    tsd = df["mrn"].map(ts)
    keep = day.between(-30, 30) & (tsd.isna() | (day < tsd))
    df = df[keep].copy()
    df["dist"] = (df[time_col] - idx[keep] * unit).abs()
    df = df.sort_values("record_id", ascending=False, kind="stable")
    keys = ([by] if by else []) + ["mrn"]
    df = df.sort_values(keys + ["dist", time_col], kind="stable")
    df = df.drop_duplicates(keys, keep="first")
    return df.set_index(keys)


def _baseline(an, pat, lab, fi, pft, ts, ix):
    A = an.index
    ix = ix[A]
    p = pat.set_index("mrn").loc[A]
    bd = p["birth"].map(lambda x: P.EPOCH + P.dt.timedelta(days=int(x)))
    idx_dates = ix.map(lambda x: P.EPOCH + P.dt.timedelta(days=int(x)))
    an["age_years"] = [
        float(i.year - b.year - ((i.month, i.day) < (b.month, b.day)))
        for i, b in zip(idx_dates, bd, strict=True)
    ]
    an["male"] = (p["sex"] == "M").astype(int)
    an["smoking_history"] = p["smoking"].isin(("current", "former")).astype(int)
    f = fi[fi["mrn"].isin(A) & fi["present"]]
    sysm = set(f.loc[f["code"].isin(SYSTEMIC) & f["off"].between(-180, 30), "mrn"])
    an["systemic_symptoms"] = [int(m in sysm) for m in A]
    sk = f[f["off"] <= 180]
    for col, codes in (
        ("heliotrope_rash", ("HELIOTROPE_RASH",)),
        ("gottron_sign", ("GOTTRON_SIGN", "GOTTRON_PAPULES")),
        ("minor_cutaneous", MINOR),
        ("mechanic_hands", ("MECHANIC_HANDS",)),
        ("v_sign", ("V_SIGN",)),
        ("cutaneous_ulcer", ("CUTANEOUS_ULCER",)),
        ("poikiloderma", ("POIKILODERMA",)),
        ("holster_sign", ("HOLSTER_SIGN",)),
    ):
        s = set(sk.loc[sk["code"].isin(codes), "mrn"])
        an[col] = [int(m in s) for m in A]
    num = lab[lab["value"].notna() & lab["analyte"].isin(P.NUMERIC_ANALYTES)]
    ch = _closest(num, ix, ts, "sec", 86400, by="analyte")["value"]
    for a, col in P.BASELINE_COLUMN.items():
        an[col] = ch.xs(a, level="analyte").reindex(A) if a in ch.index.levels[0] else np.nan
    pa = num[num["analyte"] == "PAO2"][["mrn", "sec", "record_id", "value"]]
    fo = num[num["analyte"] == "FIO2"][["mrn", "sec", "value"]]
    oi = pa.merge(fo, on=["mrn", "sec"], suffixes=("", "_f"))
    oi["value"] = oi["value"] / oi["value_f"]
    an["oi_mmhg"] = _closest(oi, ix, ts, "sec", 86400)["value"].reindex(A)
    ana = lab[lab["analyte"] == "ANA"].copy()
    ana["pos"] = ana["result"].map(ana_positive)
    ch = _closest(ana[ana["pos"].notna()], ix, ts, "sec", 86400)
    an["ana_positive"] = ch["pos"].reindex(A).map({True: 1, False: 0})
    g = lab[lab["analyte"].isin(P.ANTIBODIES)].copy()
    g["g"] = g["result"].map(grade)
    ch = _closest(g[g["g"].notna()], ix, ts, "sec", 86400, by="analyte")["g"]
    for a in P.ANTIBODIES:
        x = ch.xs(a, level="analyte").reindex(A) if a in ch.index.levels[0] else pd.Series(index=A)
        an["anti_" + a.lower()] = x.map({"pos": 1, "weak": 0, "neg": 0})
    ch = _closest(pft, ix, ts, "day", 1)
    for c, col in (("fev1", "fev1_pct_pred"), ("fvc", "fvc_pct_pred"), ("dlco", "dlco_pct_pred")):
        an[col] = pd.to_numeric(ch[c].reindex(A), errors="coerce")
    an["ldh_above_normal"] = (an["ldh_u_per_l"] > 211).astype(int).where(an["ldh_u_per_l"].notna())


def _survival(an, cur, ix):
    A = an.index
    ix = ix[A]
    admin = P.day(P.ADMIN_END)
    vs = cur["vital_status"]
    vs = vs[vs["mrn"].isin(A)]
    dead = (
        vs[vs["status"] == "dead"].sort_values(["mrn", "day"]).drop_duplicates("mrn", keep="last")
    )
    ddate = dead["death"].fillna(dead["day"])
    death = pd.Series(ddate.values, index=dead["mrn"].values)
    contacts = [vs[["mrn", "day"]]]
    for t, c in (("diagnoses", "day"), ("imaging", "day"), ("clinical_findings", "day")):
        x = cur[t]
        contacts.append(
            x.loc[x["mrn"].isin(A) & (x[c] <= admin), ["mrn", c]].rename(columns={c: "day"})
        )
    lab = cur["lab_results"]
    lab = lab[lab["mrn"].isin(A)]
    ld = pd.DataFrame({"mrn": lab["mrn"], "day": np.floor_divide(lab["sec"], 86400)})
    contacts.append(ld[ld["day"] <= admin])
    last = pd.concat(contacts).groupby("mrn")["day"].max().clip(upper=admin)
    ev, tm = [], []
    for m in A:
        dd = death.get(m)
        if dd is not None and not pd.isna(dd) and dd <= admin:
            ev.append(1)
            t = dd - ix[m]
        else:
            ev.append(0)
            t = (admin if dd is not None and not pd.isna(dd) else last.get(m, ix[m])) - ix[m]
        tm.append(float(t) if t > 0 else 0.5)
    an["event"], an["time_days"] = ev, tm

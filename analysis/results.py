"""Turn result objects into the long `results.*` rows, each beside the paper's figure."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.cox import CoxResult
from analysis.roc import RocResult
from analysis.survival import FollowUpResult, KmResult, LogrankResult
from analysis.tables import TABLE1_ITEMS, Table1Row, Table2Row

COX_PUBLISHED_KEYS = {
    "age_years": "age_per_year",
    "smoking_history": "smoking",
    "anti_mda5": "anti_mda5",
    "wbc_10e9_per_l": "wbc_per_10e9_per_l",
}


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, int | float):
        return float(x)
    return None  # printed as text, e.g. "<0.001"


class Rows:
    """Collects rows of one results table."""

    def __init__(self, analysis: str) -> None:
        self.analysis = analysis
        self.rows: list[dict] = []

    def add(
        self,
        subgroup: str,
        item: str,
        statistic: str,
        ours: Any,
        published: Any = None,
        method: str | None = None,
        n: int | None = None,
        is_count: bool = False,
    ) -> None:
        o, p = _num(ours), _num(published)
        self.rows.append(
            {
                "analysis": self.analysis,
                "subgroup": subgroup,
                "item": item,
                "statistic": statistic,
                "ours": o,
                "published": p,
                "difference": None if o is None or p is None else o - p,
                "method": method,
                "n": n,
                "is_count": is_count,
            }
        )

    def frame(self, run_id: str, freshness: str | None) -> pd.DataFrame:
        df = pd.DataFrame(
            self.rows,
            columns=[
                "analysis",
                "subgroup",
                "item",
                "statistic",
                "ours",
                "published",
                "difference",
                "method",
                "n",
                "is_count",
            ],
        )
        df["n"] = df["n"].astype("Int64")
        df["run_id"] = run_id
        df["data_freshness"] = freshness
        return df


def table1_rows(rows: tuple[Table1Row, ...], pub: dict) -> Rows:
    t1 = pub.get("table1", {})
    cols = list(t1.get("columns", ["ALL", "ADM-NSIP", "ADM-OP"]))
    out = Rows("table1")
    lookup = {k: col for k, col, _, _ in TABLE1_ITEMS}

    def published(key: str, column: str, stat: str) -> Any:
        i = cols.index(column) if column in cols else None
        if i is None:
            return None
        if key == "n":
            return t1.get("n", [None] * 3)[i]
        if key == "age_mean_sd":
            pair = t1.get("age_mean_sd", [[None, None]] * 3)[i]
            return pair[0] if stat == "mean" else pair[1]
        if key in ("male", "female"):
            return t1.get("sex_m_f", [[None, None]] * 3)[i][0 if key == "male" else 1]
        if key in ("heliotrope_rash", "gottron_sign", "minor_cutaneous"):
            return t1.get(key, [None] * 3)[i]
        if key in t1.get("minor_cutaneous_breakdown", {}):
            return t1["minor_cutaneous_breakdown"][key] if column == "ALL" else None
        for section in ("msa", "maa"):
            if key in t1.get(section, {}):
                return t1[section][key][i]
        return None

    for row in rows:
        for c in row.cells:
            if row.key == "age_mean_sd":
                out.add(
                    c.column,
                    row.key,
                    "mean",
                    c.mean,
                    published(row.key, c.column, "mean"),
                    n=c.n_tested,
                )
                out.add(
                    c.column, row.key, "sd", c.sd, published(row.key, c.column, "sd"), n=c.n_tested
                )
            elif row.key == "n":
                out.add(
                    c.column,
                    "n",
                    "count",
                    c.count,
                    published("n", c.column, "count"),
                    n=c.n,
                    is_count=True,
                )
            else:
                item = lookup.get(row.key, row.key)
                out.add(
                    c.column,
                    item,
                    "count",
                    c.count,
                    published(row.key, c.column, "count"),
                    n=c.n,
                    is_count=True,
                )
                out.add(c.column, item, "pct", c.pct, None, n=c.n)
    return out


def table2_rows(rows: tuple[Table2Row, ...], pub: dict) -> Rows:
    t2 = pub.get("table2", {}).get("rows", {})
    out = Rows("table2")
    for r in rows:
        p = t2.get(r.key)
        off = 0 if r.comparison == "NSIP" else 3
        pa, pc, pp = (p[off], p[off + 1], p[off + 2]) if p else (None, None, None)
        m = r.test
        if r.kind == "continuous":
            for side, s, pv in (("adm", r.adm, pa), ("control", r.control, pc)):
                out.add(r.comparison, r.key, f"{side}_n", s.n, None, m, s.n, is_count=True)
                out.add(r.comparison, r.key, f"{side}_mean", s.mean, pv[0] if pv else None, m, s.n)
                out.add(r.comparison, r.key, f"{side}_sd", s.sd, pv[1] if pv else None, m, s.n)
                out.add(r.comparison, r.key, f"{side}_median", s.median, None, m, s.n)
                out.add(r.comparison, r.key, f"{side}_q1", s.q1, None, m, s.n)
                out.add(r.comparison, r.key, f"{side}_q3", s.q3, None, m, s.n)
        else:
            for side, s, pv in (("adm", r.adm, pa), ("control", r.control, pc)):
                pcount = pv[0] if isinstance(pv, list) else pv
                out.add(r.comparison, r.key, f"{side}_n", s.n, None, m, s.n, is_count=True)
                out.add(
                    r.comparison, r.key, f"{side}_count", s.count, pcount, m, s.n, is_count=True
                )
                out.add(r.comparison, r.key, f"{side}_pct", s.pct, None, m, s.n)
        n = r.adm.n + r.control.n
        out.add(r.comparison, r.key, "statistic", r.statistic, None, m, n)
        out.add(r.comparison, r.key, "p_value", r.p_value, pp, m, n)
        out.add(r.comparison, r.key, "smd", r.smd, None, m, n)
    return out


def roc_rows(
    results: dict[str, RocResult], pub: dict, ldh_above_normal: tuple[int, int] | None = None
) -> Rows:
    out = Rows("roc")
    for name, r in results.items():
        p = pub.get("roc", {}).get(name, {})
        m, pm = r.auc_ci_method, r.ci_method
        ci = p.get("auc_ci95", [None, None])
        out.add(name, "auc", "auc", r.auc, p.get("auc"), m, r.n)
        out.add(name, "auc", "ci_lower", r.auc_ci[0], ci[0], m, r.n)
        out.add(name, "auc", "ci_upper", r.auc_ci[1], ci[1], m, r.n)
        out.add(name, "auc", "p_value", r.p_value, p.get("p"), m, r.n)
        out.add(name, "cutoff", "cutoff", r.cutoff, p.get("cutoff_u_per_l"), r.cutoff_method, r.n)
        for stat, prop in (
            ("sensitivity", r.sensitivity),
            ("specificity", r.specificity),
            ("ppv", r.ppv),
            ("npv", r.npv),
        ):
            pci = p.get(f"{stat}_ci95", [None, None])
            out.add(name, stat, "estimate", prop.estimate, p.get(stat), pm, prop.n)
            out.add(name, stat, "ci_lower", prop.ci[0], pci[0], pm, prop.n)
            out.add(name, stat, "ci_upper", prop.ci[1], pci[1], pm, prop.n)
            out.add(name, stat, "count", prop.k, None, pm, prop.n, is_count=True)
        out.add(name, "n", "count", r.n, None, m, r.n, is_count=True)
        out.add(name, "n_positive", "count", r.n_positive, None, m, r.n, is_count=True)
    if ldh_above_normal is not None:
        pa = pub.get("roc", {}).get("ldh_above_normal_in_adm", {})
        k, n = ldh_above_normal
        out.add(
            "ldh", "ldh_above_normal_in_adm", "count", k, pa.get("n"), "count", n, is_count=True
        )
    return out


def km_rows(
    kms: dict[str, KmResult], pub: dict, follow_up: FollowUpResult | None, adm_deaths: int | None
) -> Rows:
    out = Rows("km")
    os_pub = pub.get("survival", {}).get("os_1_3_5_years", {})
    for km in kms.values():
        for g in km.groups:
            pv = os_pub.get(g.group, [])
            out.add(g.group, "overall", "n", g.n, None, km.ci_method, g.n, is_count=True)
            out.add(g.group, "overall", "events", g.events, None, km.ci_method, g.n, is_count=True)
            out.add(g.group, "overall", "median_months", g.median, None, km.ci_method, g.n)
            for i, s in enumerate(g.survival):
                item = f"month_{s.time:g}"
                out.add(
                    g.group,
                    item,
                    "estimate",
                    s.estimate,
                    pv[i] if i < len(pv) else None,
                    km.ci_method,
                    g.n,
                )
                out.add(g.group, item, "ci_lower", s.ci[0], None, km.ci_method, g.n)
                out.add(g.group, item, "ci_upper", s.ci[1], None, km.ci_method, g.n)
                out.add(g.group, item, "at_risk", s.at_risk, None, km.ci_method, g.n, is_count=True)
    sp = pub.get("survival", {})
    if follow_up is not None:
        out.add(
            "ADM",
            "follow_up",
            "median_months",
            follow_up.median,
            sp.get("adm_median_follow_up_months"),
            follow_up.method,
            follow_up.n,
        )
    if adm_deaths is not None:
        out.add(
            "ADM",
            "deaths",
            "count",
            adm_deaths,
            sp.get("adm_deaths"),
            "count",
            follow_up.n if follow_up else None,
            is_count=True,
        )
    return out


def logrank_rows(tests: dict[str, LogrankResult | None], pub: dict, ns: dict[str, int]) -> Rows:
    out = Rows("logrank")
    lp = pub.get("survival", {}).get("logrank_p", {})
    for name, lr in tests.items():
        if lr is None:
            continue
        out.add(name, "ADM vs control", "chi2", lr.chi2, None, lr.method, ns.get(name))
        out.add(name, "ADM vs control", "df", lr.df, None, lr.method, ns.get(name))
        out.add(
            name, "ADM vs control", "p_value", lr.p_value, lp.get(name), lr.method, ns.get(name)
        )
    return out


def cox_rows(univariate: dict[str, CoxResult], multivariate: CoxResult, pub: dict) -> Rows:
    out = Rows("cox")
    mp = pub.get("cox_adm", {}).get("multivariate", {})
    for subgroup, models in (("univariate", univariate), ("multivariate", {"model": multivariate})):
        for model in models.values():
            ph = {p.name: p.p_value for p in model.ph_test}
            for t in model.terms:
                p = (
                    mp.get(COX_PUBLISHED_KEYS.get(t.name, ""), {})
                    if subgroup == "multivariate"
                    else {}
                )
                ci = p.get("ci95", [None, None])
                for stat, ours, pubv in (
                    ("coef", t.coef, None),
                    ("se", t.se, None),
                    ("hr", t.hr, p.get("hr")),
                    ("hr_ci_lower", t.hr_ci[0], ci[0]),
                    ("hr_ci_upper", t.hr_ci[1], ci[1]),
                    ("p_value", t.p_value, p.get("p")),
                    ("ph_p_value", ph.get(t.name), None),
                ):
                    out.add(subgroup, t.name, stat, ours, pubv, model.method, model.n)
                out.add(
                    subgroup,
                    t.name,
                    "events",
                    model.events,
                    None,
                    model.method,
                    model.n,
                    is_count=True,
                )
        if subgroup == "multivariate":
            out.add(
                subgroup,
                "_model",
                "concordance",
                multivariate.concordance,
                None,
                multivariate.method,
                multivariate.n,
            )
            out.add(
                subgroup,
                "_model",
                "n",
                multivariate.n,
                None,
                multivariate.method,
                multivariate.n,
                is_count=True,
            )
    return out

"""The self-contained HTML study report (Jinja2; figures embedded as base64 PNG, CSS inline)."""

from __future__ import annotations

import base64
import collections
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from analysis.cox import CoxResult
from analysis.diff import KEY_STATISTICS
from analysis.roc import RocResult
from analysis.survival import FollowUpResult, KmResult
from analysis.tables import CHI2, FISHER, MWU, WELCH, Table1Row, Table2Row

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportInputs:
    run_id: str
    data_freshness: str | None
    dq_status: dict | None
    run_history: list[dict]
    published: dict
    attrition: pd.DataFrame
    table1: tuple[Table1Row, ...]
    table2: tuple[Table2Row, ...]
    rocs: dict[str, RocResult]
    kms: dict[str, KmResult]
    follow_up: FollowUpResult | None
    adm_deaths: int | None
    cox_univariate: dict[str, CoxResult]
    cox_multivariate: CoxResult
    cox_labels: dict[str, str]
    frames: dict[str, pd.DataFrame]
    figures: dict[str, Path]
    warnings: tuple[str, ...]
    generated_at: str
    changes: Any = None  # analysis.diff.DiffResult against the previous publication, or None


def fmt(x, digits: int = 2) -> str:
    """Number for display: '-' for missing, p values below 0.001 as '<0.001' via fmt_p."""
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and p != p):
        return "–"
    if isinstance(p, str):
        return p
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _png(path: Path | None) -> str | None:
    if path is None or not Path(path).exists():
        return None
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def methods_text(inp: ReportInputs) -> list[str]:
    """The methods paragraphs, generated from what actually ran."""
    tests = collections.Counter(r.test for r in inp.table2 if r.test)
    short = {
        WELCH: "Welch's t-test",
        MWU: "the Mann-Whitney U test",
        CHI2: "Pearson's chi-square test without continuity correction",
        FISHER: "Fisher's exact test",
    }
    used = "; ".join(f"{short.get(t, t)} on {n} row(s)" for t, n in tests.items())
    roc = next(iter(inp.rocs.values()), None)
    km = next(iter(inp.kms.values()), None)
    multi = inp.cox_multivariate
    out = [
        "Table 2 compares each ADM group with its control group within the NSIP and within the "
        "OP pattern. Continuous variables are summarised as mean ± SD and median [IQR] with the "
        "number of non-missing values; they were compared with Welch's t-test when both groups "
        "had at least 3 values and passed the Shapiro-Wilk test (p ≥ 0.05), otherwise with the "
        "two-sided Mann-Whitney U test (scipy's default method: exact for small samples without "
        "ties, else the normal approximation). Categorical variables were compared with "
        "Pearson's chi-square test without continuity correction when every expected count was "
        f"at least 5, otherwise with Fisher's exact test. In this run: {used or 'no tests'}. "
        "Standardised mean differences use the pooled SD.",
    ]
    if roc:
        out.append(
            f"ROC curves (ADM vs control, n = {roc.n}): AUC with 95% CI by {roc.auc_ci_method} "
            "and p for AUC = 0.5 from the DeLong standard error; the optimal cutoff maximises "
            f"Youden's index, {roc.cutoff_method.split('; ')[1]}. Sensitivity, specificity, PPV "
            f"and NPV carry {roc.ci_method} 95% CIs; PPV and NPV use the sample prevalence."
        )
    if km:
        out.append(
            f"Overall survival by the Kaplan-Meier method with {km.ci_method}; numbers at risk "
            "are patients still followed at each time; groups compared with the log-rank test. "
            "Median follow-up by the reverse Kaplan-Meier method."
        )
    out.append(
        f"Cox proportional hazards regression among ADM patients ({multi.method}); univariate "
        "models for each protocol covariate, and a multivariate model of "
        f"{', '.join(multi.covariates_requested)} (n = {multi.n}, {multi.events} events). "
        f"Proportional hazards checked by the {multi.ph_method}."
    )
    return out


def _comparison(frame: pd.DataFrame) -> list[dict]:
    sub = frame[frame["published"].notna()]
    return sub[["subgroup", "item", "statistic", "ours", "published", "difference"]].to_dict(
        "records"
    )


def write_report(path: Path, inp: ReportInputs) -> Path:
    """Render the report to `path` (parents created) and return the path.

    Notes
    -----
    Jinja2 template `templates/study-report.html.j2` with autoescaping; every figure is
    embedded, so the file is self-contained.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    env.filters["fmt_p"] = fmt_p
    t2_pub = inp.published.get("table2", {}).get("rows", {})
    att = inp.attrition.sort_values("step_order").to_dict("records")
    screening = inp.published.get("screening", {})
    pub_att = {"screened": screening.get("ild_screened")}
    reasons = [
        "iim_muscle_involvement",
        "malignancy",
        "multiple_ctd",
        "prior_treatment",
        "drug_induced",
    ]
    for reason, ex in zip(reasons, screening.get("exclusions_in_order", []), strict=False):
        pub_att[reason] = ex.get("n")
    pub_att.update(screening.get("groups", {}))
    if screening.get("ild_screened") is not None and screening.get("analysed") is not None:
        pub_att["pattern_not_nsip_op"] = (
            screening["ild_screened"]
            - screening["analysed"]
            - sum(e.get("n", 0) for e in screening.get("exclusions_in_order", []))
        )
    for a in att:
        key = a["step"]
        p = pub_att.get(key)
        ours = (
            a["n_remaining"]
            if key in screening.get("groups", {}) or key == "screened"
            else a["n_excluded"]
        )
        a["ours"], a["published"] = ours, p
        a["difference"] = None if p is None else ours - p
    html = env.get_template("study-report.html.j2").render(
        inp=inp,
        methods=methods_text(inp),
        attrition=att,
        t2_pub=t2_pub,
        figs={k: _png(v) for k, v in inp.figures.items()},
        cmp={k: _comparison(v) for k, v in inp.frames.items()},
        t1_cols=("ALL", "ADM-NSIP", "ADM-OP"),
        key_statistics=sorted(KEY_STATISTICS),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

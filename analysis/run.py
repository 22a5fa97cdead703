"""The study analysis end to end: marts -> statistics -> `results.*` + figures + HTML report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import io, plots, report, results
from analysis.cox import DEFAULT_MULTIVARIATE, PROTOCOL_UNIVARIATE, cox_fit, cox_univariate
from analysis.diff import diff_against_build
from analysis.errors import AnalysisInputError
from analysis.roc import roc_analysis
from analysis.survival import kaplan_meier, median_follow_up
from analysis.tables import table1, table2
from ildwh import IldwhError


@dataclass(frozen=True)
class AnalysisOutcome:
    """What one analysis run produced."""

    run_id: str
    db_path: Path
    report_path: Path
    figure_paths: tuple[Path, ...]
    results_tables: tuple[str, ...]
    warnings: tuple[str, ...]
    key_figures: dict = field(default_factory=dict)


def analysis_frame(marts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Baseline joined to survival on person_key, with `pattern_op` (OP vs NSIP) added."""
    b, s = marts["baseline"], marts["survival"]
    for name, frame in (("baseline", b), ("survival", s)):
        if "person_key" not in frame.columns:
            raise AnalysisInputError(f"marts.{name}: column person_key is missing")
    d = b.merge(
        s[["person_key", "time_days", "time_months", "event"]],
        on="person_key",
        how="left",
        validate="one_to_one",
    )
    d["pattern_op"] = (d["hrct_pattern"] == "OP").astype(float)
    d["adm"] = d["is_adm"].astype(float)
    return d


def run_study_analysis(
    db_path: Path,
    reports_dir: Path,
    run_id: str,
    data_freshness: str | None,
    dq_status: dict | None = None,
    run_history: list[dict] | None = None,
    published_path: Path | None = None,
    multivariate: tuple[str, ...] = DEFAULT_MULTIVARIATE,
    previous_db: Path | None = None,
) -> AnalysisOutcome:
    """Compute every analysis of protocol section 8, store `results.*` in `db_path`, write report.

    Parameters
    ----------
    db_path : Path
        DuckDB file with schema `marts`; the `results` schema is (re)written into it.
    reports_dir : Path
        Figures go to `reports_dir/figures/`, the report to `reports_dir/study-report.html`.
    run_id, data_freshness : str
        Stamped on every results row (data_freshness = latest drop id, may be None).
    dq_status, run_history : optional
        Shown in the report (data-quality status dict; list of run-history row dicts).
    published_path : Path, optional
        The paper's figures (default `shared/spec/published_results.json`).
    multivariate : tuple of str
        Covariates of the multivariate Cox model.
    previous_db : Path, optional
        The last published `analytics.duckdb`: the report gets a "What changed" section
        (:func:`analysis.diff.diff_against_build`); none when absent or without history.

    Returns
    -------
    AnalysisOutcome

    Notes
    -----
    Methods as in :mod:`analysis.tables`, :mod:`analysis.roc`, :mod:`analysis.survival`,
    :mod:`analysis.cox`. Statistical problems (EPV < 10, a constant covariate, non-convergence)
    become warnings in the outcome and the report; only unreadable input raises
    :class:`analysis.errors.AnalysisInputError`.
    """
    db_path, reports_dir = Path(db_path), Path(reports_dir)
    pub = io.load_published(published_path)
    marts = io.read_marts(db_path)
    base, surv = marts["baseline"], marts["survival"]
    d = analysis_frame(marts)
    fig_dir = reports_dir / "figures"
    figs: list[Path] = []
    notes: list[str] = []

    t1 = table1(base)
    t2 = table2(base)

    rocs = {
        "ldh": roc_analysis(d, "ldh_u_per_l", "adm"),
        "ana": roc_analysis(d, "ana_positive", "adm"),
    }
    adm = d[d["is_adm"].astype(bool)]
    ldh_k = (
        int(adm["ldh_above_normal"].fillna(False).astype(bool).sum())
        if "ldh_above_normal" in adm
        else None
    )
    figs += plots.roc_plot(
        {"LDH": rocs["ldh"], "ANA >= 1:80": rocs["ana"]},
        fig_dir / "roc",
        f"ADM vs control (n = {rocs['ldh'].n})",
    )

    kms = {}
    for pattern in ("NSIP", "OP"):
        sub = surv[surv["hrct_pattern"] == pattern]
        if sub.empty:
            notes.append(f"Kaplan-Meier {pattern}: no patients")
            continue
        kms[pattern] = kaplan_meier(
            sub,
            "time_months",
            "event",
            "analysis_group",
            group_order=(f"ADM-{pattern}", f"control-{pattern}"),
        )
        figs += plots.km_plot(
            kms[pattern], fig_dir / f"km_{pattern.lower()}", f"{pattern}: ADM vs control"
        )
    adm_surv = surv[surv["is_adm"].astype(bool)]
    follow = median_follow_up(adm_surv, "time_months", "event") if len(adm_surv) else None
    adm_deaths = int(adm_surv["event"].sum()) if len(adm_surv) else None

    covs = [c for c, _ in PROTOCOL_UNIVARIATE]
    labels = dict(PROTOCOL_UNIVARIATE)
    uni = cox_univariate(adm, "time_months", "event", covs)
    multi = cox_fit(adm, "time_months", "event", list(multivariate))
    for name, res in uni.items():
        notes += [
            f"Cox univariate {name}: {w}"
            for w in res.warnings
            if "left out (complete cases)" not in w
        ]
    notes += [f"Cox multivariate: {w}" for w in multi.warnings]
    uni_terms = [(labels.get(c, c), r.terms[0]) for c, r in uni.items() if r.terms]
    figs += plots.forest_plot(
        uni_terms, fig_dir / "forest_univariate", f"Univariate Cox, ADM patients (n = {len(adm)})"
    )
    figs += plots.forest_plot(
        [(labels.get(t.name, t.name), t) for t in multi.terms],
        fig_dir / "forest_multivariate",
        f"Multivariate Cox (n = {multi.n}, events = {multi.events})",
    )
    figs += plots.attrition_plot(marts["attrition"], fig_dir / "attrition")

    rows = {
        "table1": results.table1_rows(t1, pub),
        "table2": results.table2_rows(t2, pub),
        "roc": results.roc_rows(rocs, pub, (ldh_k, len(adm)) if ldh_k is not None else None),
        "km": results.km_rows(kms, pub, follow, adm_deaths),
        "logrank": results.logrank_rows(
            {k: v.logrank for k, v in kms.items()}, pub, {k: v.n for k, v in kms.items()}
        ),
        "cox": results.cox_rows(uni, multi, pub),
    }
    frames = {k: v.frame(run_id, data_freshness) for k, v in rows.items()}
    io.write_results(db_path, frames)

    key = {
        "n_analysed": len(base),
        "roc_ldh_auc": rocs["ldh"].auc,
        "roc_ldh_cutoff": rocs["ldh"].cutoff,
        "roc_ana_auc": rocs["ana"].auc,
        "logrank_p": {k: v.logrank.p_value for k, v in kms.items() if v.logrank},
        "cox_multivariate_hr": {t.name: t.hr for t in multi.terms},
        "adm_median_follow_up_months": follow.median if follow else None,
    }
    changes = None
    if previous_db is not None:
        try:
            changes = diff_against_build(Path(previous_db), db_path, run_id, data_freshness)
        except IldwhError as exc:
            notes.append(f"What changed: not shown ({exc})")
    report_path = report.write_report(
        reports_dir / "study-report.html",
        report.ReportInputs(
            run_id=run_id,
            data_freshness=data_freshness,
            dq_status=dq_status,
            run_history=run_history or [],
            published=pub,
            attrition=marts["attrition"],
            table1=t1,
            table2=t2,
            rocs=rocs,
            kms=kms,
            follow_up=follow,
            adm_deaths=adm_deaths,
            cox_univariate=uni,
            cox_multivariate=multi,
            cox_labels=labels,
            frames=frames,
            figures={p.stem: p for p in figs if p.suffix == ".png"},
            warnings=tuple(notes),
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            changes=changes,
        ),
    )
    return AnalysisOutcome(
        run_id, db_path, report_path, tuple(figs), tuple(frames), tuple(notes), key
    )


def run_study_analysis_cli(paths, db: str | None) -> int:
    """`ildwh analyse`: run the analysis on `db` (default: the working copy)."""
    db_path = Path(db) if db else paths.build_db
    run_id = "manual-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    freshness = io.latest_drop_id(db_path)
    out = run_study_analysis(db_path, paths.reports_dir, run_id, freshness)
    print(f"wrote results.{{{','.join(out.results_tables)}}} into {db_path}")
    print(f"wrote {out.report_path} and {len(out.figure_paths)} figure file(s)")
    for w in out.warnings:
        print(f"warning: {w}")
    return 0

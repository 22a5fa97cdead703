"""`ildwh stats roc|km|cox`: the study statistics on any read-only SQL query."""

from __future__ import annotations

import argparse
import json
import sys

from analysis.errors import AnalysisInputError

COMMON_HELP = "DuckDB file, opened read-only (default: <home>/warehouse/analytics.duckdb)"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, metavar="FILE", help=COMMON_HELP)
    p.add_argument(
        "--query",
        required=True,
        metavar="SQL",
        help="one SELECT (or WITH ... SELECT) statement giving one row per subject",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `roc`, `km` and `cox` sub-subcommands to the `stats` parser."""
    sub = parser.add_subparsers(dest="stats_command", required=True, metavar="ANALYSIS")
    p = sub.add_parser("roc", help="AUC (DeLong CI), Youden cutoff, sens/spec/PPV/NPV (Wilson)")
    _common(p)
    p.add_argument("--score", required=True, metavar="COL", help="numeric or 0/1 score column")
    p.add_argument("--label", required=True, metavar="COL", help="binary 0/1 outcome column")
    p.add_argument(
        "--direction",
        default="auto",
        choices=("auto", "higher", "lower"),
        help="which side of the score is positive (default auto, as pROC)",
    )
    p = sub.add_parser("km", help="Kaplan-Meier with log-log CIs, numbers at risk, log-rank")
    _common(p)
    p.add_argument("--time", required=True, metavar="COL", help="follow-up time (>= 0)")
    p.add_argument("--event", required=True, metavar="COL", help="1 = event, 0 = censored")
    p.add_argument("--group", default=None, metavar="COL", help="grouping column (optional)")
    p.add_argument(
        "--times",
        default="12,36,60",
        metavar="T1,T2,...",
        help="times for S(t), in the unit of --time (default 12,36,60)",
    )
    p = sub.add_parser("cox", help="Cox proportional hazards (Efron ties), Schoenfeld PH test")
    _common(p)
    p.add_argument("--time", required=True, metavar="COL", help="follow-up time (>= 0)")
    p.add_argument("--event", required=True, metavar="COL", help="1 = event, 0 = censored")
    p.add_argument(
        "--covariates", required=True, metavar="A,B,C", help="comma-separated covariate columns"
    )


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _p(x) -> str:
    return "-" if x is None else ("<0.0001" if x < 0.0001 else f"{x:.4f}")


def _ci(ci, digits: int = 3) -> str:
    return f"({_f(ci[0], digits)}, {_f(ci[1], digits)})"


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def _show_roc(j: dict) -> None:
    print(f"ROC: n = {j['n']} ({j['n_positive']} positive), direction = {j['direction']}")
    print(
        f"AUC {_f(j['auc'])} 95% CI {_ci(j['auc_ci'])} [{j['auc_ci_method']}], "
        f"p (AUC = 0.5) = {_p(j['p_value'])}"
    )
    print(f"Youden cutoff: {j['cutoff']}")
    _print_table(
        ["measure", "estimate", f"95% CI ({j['ci_method']})"],
        [[m, _f(j[m]), _ci(j[f"{m}_ci"])] for m in ("sensitivity", "specificity", "ppv", "npv")],
    )


def _show_km(j: dict) -> None:
    rows = []
    for g in j["groups"]:
        for s in g["survival"]:
            rows.append(
                [
                    g["group"],
                    str(g["n"]),
                    str(g["events"]),
                    _f(g["median"], 2),
                    f"{s['time']:g}",
                    _f(s["estimate"]),
                    _ci(s["ci"]),
                    str(s["at_risk"]),
                ]
            )
    _print_table(
        ["group", "n", "events", "median", "time", "S(t)", "95% CI (log-log)", "at risk"], rows
    )
    lr = j["logrank"]
    if lr:
        print(f"log-rank chi2 = {_f(lr['chi2'])}, df = {lr['df']}, p = {_p(lr['p_value'])}")


def _show_cox(j: dict) -> None:
    print(
        f"Cox PH (ties = {j['ties']}): n = {j['n']}, events = {j['events']}, "
        f"concordance = {_f(j['concordance'])}"
    )
    ph = {p["name"]: p["p_value"] for p in j["ph_test"]}
    _print_table(
        ["covariate", "coef", "se", "HR", "95% CI", "p", "PH p"],
        [
            [
                c["name"],
                _f(c["coef"], 4),
                _f(c["se"], 4),
                _f(c["hr"]),
                _ci(c["hr_ci"]),
                _p(c["p_value"]),
                _p(ph.get(c["name"])),
            ]
            for c in j["covariates"]
        ],
    )
    for w in j["warnings"]:
        print(f"warning: {w}")


def _parse_times(text: str) -> tuple[float, ...]:
    try:
        times = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError as exc:
        raise AnalysisInputError(f"--times: expected numbers like 12,36,60, got {text!r}") from exc
    if not times or any(t < 0 for t in times):
        raise AnalysisInputError(f"--times: expected non-negative numbers, got {text!r}")
    return times


def stats_main(args: argparse.Namespace) -> int:
    """Run `ildwh stats <analysis>`; input errors raise AnalysisInputError (exit code 2)."""
    from pathlib import Path

    from analysis import io
    from ildwh.config import Paths

    db = Path(args.db) if args.db else Paths.at(getattr(args, "home", None)).analytics_db
    df = io.run_query(db, args.query)
    if args.stats_command == "roc":
        from analysis.roc import roc_analysis

        j = roc_analysis(df, args.score, args.label, args.direction).to_json()
        show = _show_roc
    elif args.stats_command == "km":
        from analysis.survival import kaplan_meier

        j = kaplan_meier(df, args.time, args.event, args.group, _parse_times(args.times)).to_json()
        show = _show_km
    else:
        from analysis.cox import cox_fit

        covs = [c.strip() for c in args.covariates.split(",") if c.strip()]
        j = cox_fit(df, args.time, args.event, covs).to_json()
        show = _show_cox
    if args.json:
        print(json.dumps(j, allow_nan=False))
    else:
        show(j)
    sys.stdout.flush()
    return 0

"""The `ildwh` command line. Every subcommand has --help; --home applies to all.

Each subcommand is a thin dispatcher into the module that owns the work.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ildwh import IldwhError
from ildwh.config import Paths


def _paths(args: argparse.Namespace) -> Paths:
    return Paths.at(args.home).ensure()


def _prefect_environment(home: Paths) -> None:
    """Prefect settings with documented defaults; must run before prefect is first imported."""
    # Prefect keeps its local state (temporary server database, logs) under the home folder
    # unless the operator points it elsewhere.
    if "PREFECT_HOME" not in os.environ:
        (home.home / "prefect").mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home.home / "prefect")
    # no telemetry: this machine (and a hospital's) has no route to the internet
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The temporary local server Prefect starts when PREFECT_API_URL is unset can take more than
    # its default 20 s to come up on a loaded 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def cmd_synth(args: argparse.Namespace) -> int:
    from ildwh.synth import generate

    out = Path(args.out) if args.out else _paths(args).extracts
    summary = generate(
        out, seed=args.seed, scale=args.scale, drops=args.drops, background=args.background
    )
    print(
        f"wrote {summary['n_drops']} drop(s) to {out} "
        f"({summary['n_screened']} screened, {summary['n_analysed']} analysed, "
        f"{summary['n_persons']} persons); truth in {out / '_truth'}"
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from flows.load_raw import load_raw_flow

    paths = _paths(args)
    extracts = Path(args.extracts) if args.extracts else paths.extracts
    report = load_raw_flow(str(extracts), str(paths.restricted_db), force=args.force)
    print(report.summary_text() if hasattr(report, "summary_text") else report)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from ildwh.dbt_runner import dbt_build

    paths = _paths(args)
    result = dbt_build(paths, select=args.select)
    print(result.summary_text())
    return 0 if result.ok else 1


def cmd_dq(args: argparse.Namespace) -> int:
    from expectations.checkpoint import run_checkpoint_cli

    return run_checkpoint_cli(_paths(args), db=args.db)


def cmd_analyse(args: argparse.Namespace) -> int:
    from analysis.run import run_study_analysis_cli

    return run_study_analysis_cli(_paths(args), db=args.db)


def cmd_refresh(args: argparse.Namespace) -> int:
    from flows.nightly_refresh import refresh_cli

    return refresh_cli(_paths(args), extracts=args.extracts, force=args.force, rebuild=args.rebuild)


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.nightly_refresh import demo_cli

    return demo_cli(_paths(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.nightly_refresh import serve_cli

    return serve_cli(_paths(args), cron=args.cron, timezone=args.timezone, extracts=args.extracts)


def cmd_stats(args: argparse.Namespace) -> int:
    from analysis.cli import stats_main

    return stats_main(args)


def cmd_export(args: argparse.Namespace) -> int:
    from analysis.export import export_cli

    return export_cli(_paths(args), out=args.out, min_cell=args.min_cell)


def cmd_diff(args: argparse.Namespace) -> int:
    from analysis.diff import diff_cli

    return diff_cli(
        _paths(args),
        run_from=args.run_from,
        run_to=args.run_to,
        as_json=args.json,
        threshold=args.threshold,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ildwh",
        description="ILD / amyopathic dermatomyositis research warehouse (Prefect, DuckDB, dbt, "
        "Great Expectations, lifelines).",
    )
    p.add_argument(
        "--home",
        default=None,
        help="home folder for warehouse, reports and run logs "
        "(default: $ILDWH_HOME, else <repo>/.ildwh-home)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("synth", help="generate a synthetic EHR extract (drops + _truth/)")
    s.add_argument("--out", default=None, help="extract root to write (default <home>/extracts)")
    s.add_argument("--seed", type=int, default=20240101, help="random seed (default 20240101)")
    s.add_argument("--scale", type=int, default=1, help="multiply every cohort count by K")
    s.add_argument("--drops", type=int, default=2, help="1 full drop then D-1 delta drops")
    s.add_argument(
        "--background",
        type=int,
        default=3,
        help="background patients per screened patient (default 3)",
    )
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("load", help="load every new drop into the restricted raw layer")
    s.add_argument("--extracts", default=None, help="extract root (default <home>/extracts)")
    s.add_argument(
        "--force",
        action="store_true",
        help="reload a drop whose content changed under the same drop_id",
    )
    s.set_defaults(func=cmd_load)

    s = sub.add_parser("build", help="run dbt build into the working copy")
    s.add_argument("--select", default=None, help="dbt selection (default: everything)")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("dq", help="run the data-quality checkpoint; exit 1 when an error fails")
    s.add_argument("--db", default=None, help="warehouse file (default: the working copy)")
    s.set_defaults(func=cmd_dq)

    s = sub.add_parser("analyse", help="run the study analysis and write results + report")
    s.add_argument("--db", default=None, help="warehouse file (default: the working copy)")
    s.set_defaults(func=cmd_analyse)

    s = sub.add_parser("refresh", help="run the nightly refresh once (no server needed)")
    s.add_argument("--extracts", default=None, help="extract root (default <home>/extracts)")
    s.add_argument("--force", action="store_true", help="force reload of changed drops")
    s.add_argument(
        "--rebuild", action="store_true", help="rebuild and republish even when no new drop arrived"
    )
    s.set_defaults(func=cmd_refresh)

    s = sub.add_parser("demo", help="generate the embedded synthetic extract and run the refresh")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser(
        "serve",
        help="serve the nightly refresh on a cron schedule (needs a Prefect server: see README)",
    )
    s.add_argument("--cron", default="0 2 * * *", help="cron expression (default 0 2 * * *)")
    s.add_argument("--timezone", default="Asia/Shanghai", help="schedule time zone")
    s.add_argument("--extracts", default=None, help="extract root (default <home>/extracts)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("stats", help="the study statistics on any SQL query (roc, km, cox)")
    s.set_defaults(func=cmd_stats)
    try:
        from analysis.cli import add_stats_arguments
    except ImportError:  # pragma: no cover - analysis not installed yet
        pass
    else:
        add_stats_arguments(s)

    s = sub.add_parser("export", help="write the report tables with small cells suppressed")
    s.add_argument("--out", default=None, help="output folder (default <home>/reports/export)")
    s.add_argument("--min-cell", type=int, default=5, help="suppress counts below this (default 5)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("diff", help="what changed between two published refreshes")
    s.add_argument("--from", dest="run_from", default=None, help="run id (default: previous)")
    s.add_argument("--to", dest="run_to", default=None, help="run id (default: latest)")
    s.add_argument(
        "--threshold",
        type=float,
        default=0.01,
        help="relative change that makes a figure 'moved' (default 0.01 = 1%%)",
    )
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_diff)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _prefect_environment(Paths.at(args.home))
    try:
        return args.func(args)
    except IldwhError as exc:
        print(f"ildwh: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the nightly refresh at 1x, 10x, 100x the study's extract (`make bench`).

    python -m bench.run                              # scales 1, 10, 100
    python -m bench.run --scale 1000                 # only when asked: hours, tens of GB
    python -m bench.run --scale 10 --keep /tmp/b     # keep extracts and homes
    python -m bench.run --scale 10 --profile         # cProfile every stage (slower; top costs)

For each scale, each in its own child process (so peak RSS is its own): generate the extract
(timed apart); run the real flow `flows.nightly_refresh.nightly_refresh` in-process with the
flow's task functions (`.fn`) wrapped to reset VmHWM before a stage (`/proc/self/clear_refs` 5)
and read it after; the load floor (`bench.load`: bare DuckDB `read_csv` of every file); the
transform floor (`bench.floors`: the compiled SQL of every model and data test run directly);
then a delta drop re-delivering ~0.5% of the records (`bench.delta`) and a second refresh.
The headline seconds are the flow's own `stage_seconds`. Results: `bench/results/<stamp>.json`.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
STAGES = ("load", "dbt", "dbt_docs", "data_quality", "analysis", "publish")
TARGETS = {
    "load_vs_floor_max": 1.5,
    "refresh_s100_max_s": 600.0,
    "refresh_s100_max_peak_mb": 4096.0,
    "delta_vs_full_max": 1 / 3,
    "demo_s1_max_s": 90.0,
}
BENCH_KEY = "ildwh-bench-key-not-a-secret"


# ---------------------------------------------------------------- /proc helpers
def _status_mb(field: str, pid: str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _children_peak_mb() -> float:
    """Summed VmHWM of this process's live children (Prefect's temporary API server)."""
    me, total = str(os.getpid()), 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if ppid == me:
            total += _status_mb("VmHWM", d.name)
    return total


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ILDWH_PSEUDONYM_KEY", BENCH_KEY)
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


# ---------------------------------------------------------------- child: one refresh
def _hook(stage: str, fn, stats: dict, profile_dir: Path | None):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        rss0 = _status_mb("VmRSS")
        _reset_peak()
        prof = cProfile.Profile() if profile_dir else None
        t = time.perf_counter()
        try:
            if prof:
                return prof.runcall(fn, *args, **kwargs)
            return fn(*args, **kwargs)
        finally:
            stats[stage] = {
                "fn_seconds": time.perf_counter() - t,
                "rss_start_mb": rss0,
                "peak_rss_mb": _status_mb("VmHWM"),
            }
            if prof:
                prof.dump_stats(profile_dir / f"{stage}.pstats")
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
                (profile_dir / f"{stage}.txt").write_text(buf.getvalue())
                stats[stage]["top_tottime"] = _top(prof)

    return wrapper


def _top(prof: cProfile.Profile, n: int = 8) -> list[list]:
    st = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, _nc, tt, ct, _callers) in st.stats.items():
        rows.append([f"{Path(file).name}:{line}:{func}", round(tt, 2), round(ct, 2)])
    return sorted(rows, key=lambda r: -r[1])[:n]


def _raw_counts(restricted_db: Path) -> dict[str, int]:
    import duckdb

    from ildwh.contract import TABLES

    con = duckdb.connect(str(restricted_db), read_only=True)
    try:
        out = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in TABLES}
        out["quarantine"] = con.execute("select count(*) from raw.quarantine").fetchone()[0]
        return out
    finally:
        con.close()


def _mart_counts(analytics_db: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        return {
            t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
            for t in ("cohort", "baseline", "survival")
        }
    finally:
        con.close()


def _child_refresh(home: str, extracts: str, result: str, profile: str | None) -> None:
    t_start = time.perf_counter()
    import flows.nightly_refresh as nr
    from ildwh.config import Paths

    profile_dir = Path(profile) if profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    stats: dict[str, dict] = {}
    tasks = {
        "load": nr.load_task,
        "dbt": nr.dbt_task,
        "dbt_docs": nr.dbt_docs_task,
        "data_quality": nr.dq_task,
        "analysis": nr.analysis_task,
        "publish": nr.publish_task,
    }
    for stage, task in tasks.items():
        task.fn = _hook(stage, task.fn, stats, profile_dir)
    import_s = time.perf_counter() - t_start
    t_flow = time.perf_counter()
    out = nr.nightly_refresh(home=home, extracts=extracts)
    flow_s = time.perf_counter() - t_flow
    paths = Paths.at(home)
    res = {
        "status": out.status,
        "drops_loaded": out.drops_loaded,
        "stage_seconds": out.stage_seconds,
        "stage_memory": stats,
        "import_seconds": import_s,
        "flow_call_seconds": flow_s,
        "wall_seconds": time.perf_counter() - t_start,
        "prefect_server_peak_rss_mb": _children_peak_mb(),
        "raw_rows": _raw_counts(paths.restricted_db),
        "marts_rows": _mart_counts(paths.analytics_db),
    }
    Path(result).write_text(json.dumps(res, indent=1, default=str))


def _child_transform(home: str, work: str, result: str) -> None:
    from bench.floors import transform_floor

    res = transform_floor(Path(home), Path(work))
    res["peak_rss_mb"] = _status_mb("VmHWM")
    Path(result).write_text(json.dumps(res))


def _child_generate(out: str, seed: int, scale: int, drops: int, result: str) -> None:
    from ildwh.synth import generate

    t = time.perf_counter()
    s = generate(Path(out), seed=seed, scale=scale, drops=drops)
    res = {
        "seconds": time.perf_counter() - t,
        "peak_rss_mb": _status_mb("VmHWM"),
        "n_persons": s["n_persons"],
        "n_screened": s["n_screened"],
        "csv_mb": sum(
            f.stat().st_size for f in Path(out).rglob("*.csv*") if "_truth" not in f.parts
        )
        / 1e6,
        "file_rows": sum(sum(d["files"].values()) for d in s["drops"]),
    }
    Path(result).write_text(json.dumps(res))


# ---------------------------------------------------------------- parent
def _run_child(args: list[str], result: Path, log: Path) -> dict:
    t = time.perf_counter()
    with open(log, "a") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.run", "--child", *args, "--result", str(result)],
            cwd=REPO, env=_env(), stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    if proc.returncode != 0 or not result.exists():
        raise SystemExit(f"bench child {args[0]} failed (exit {proc.returncode}); see {log}")
    res = json.loads(result.read_text())
    res["process_seconds"] = time.perf_counter() - t
    return res


def _bare_floor(extracts: Path, work: Path) -> dict:
    from bench.load import _measure

    return _measure("bare", extracts, work)


def _log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] load {os.getloadavg()[0]:.1f}  {msg}",
          flush=True)  # fmt: skip


def bench_scale(scale: int, work: Path, seed: int, drops: int, delta: bool, profile: bool) -> dict:
    d = work / f"scale{scale}"
    extracts, home = d / "extracts", d / "home"
    d.mkdir(parents=True, exist_ok=True)
    log = d / "children.log"
    r: dict = {"scale": scale, "load_avg_start": os.getloadavg()[0]}
    _log(f"scale {scale}: generating")
    r["generate"] = _run_child(
        ["generate", "--extracts", str(extracts), "--scale", str(scale), "--seed", str(seed),
         "--drops", str(drops)], d / "generate.json", log)  # fmt: skip
    _log(f"scale {scale}: {r['generate']['file_rows']:,} file rows in "
         f"{r['generate']['seconds']:.0f} s; full refresh")  # fmt: skip
    prof = ["--profile-dir", str(d / "profile-full")] if profile else []
    r["full"] = _run_child(
        ["refresh", "--home", str(home), "--extracts", str(extracts), *prof],
        d / "full.json", log)  # fmt: skip
    _log(f"scale {scale}: full refresh {sum(r['full']['stage_seconds'].values()):.0f} s; floors")
    r["load_floor"] = _bare_floor(extracts, d)
    r["transform_floor"] = _run_child(
        ["transform", "--home", str(home), "--work", str(d / "floor")], d / "transform.json", log
    )
    shutil.rmtree(d / "floor", ignore_errors=True)
    for f in d.glob("bare.duckdb*"):
        f.unlink()
    if delta:
        from bench.delta import write_redelivery_drop

        m = write_redelivery_drop(extracts, home / "warehouse" / "restricted.duckdb")
        r["delta_drop"] = {"drop_id": m["drop_id"], "rows": m["rows_total"]}
        _log(f"scale {scale}: delta drop {m['drop_id']} ({m['rows_total']:,} rows); refresh")
        prof = ["--profile-dir", str(d / "profile-delta")] if profile else []
        r["delta"] = _run_child(
            ["refresh", "--home", str(home), "--extracts", str(extracts), *prof],
            d / "delta.json", log)  # fmt: skip
    r["load_avg_end"] = os.getloadavg()[0]
    return r


# ---------------------------------------------------------------- report
def _fmt_table(head: tuple, rows: list[tuple], left: int = 1) -> str:
    rows = [tuple(str(v) for v in r) for r in rows]
    w = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(v).ljust(w[i]) if i < left else str(v).rjust(w[i]) for i, v in enumerate(x))
        for x in [head, *rows]
    )


def render(results: list[dict]) -> str:
    from ildwh.contract import TABLES

    out = []
    short = {"clinical_findings": "findings", "pulmonary_function": "pft", "vital_status": "vital",
             "lab_results": "labs", "medications": "meds"}  # fmt: skip
    head = ("scale", *[short.get(t, t) for t in TABLES], "quarantine", "raw total", "CSV MB",
            "generate s", "cohort")  # fmt: skip
    rows = []
    for r in results:
        raw = r["full"]["raw_rows"]
        rows.append((r["scale"], *[f"{raw[t]:,}" for t in TABLES], f"{raw['quarantine']:,}",
                     f"{sum(raw[t] for t in TABLES):,}", f"{r['generate']['csv_mb']:.0f}",
                     f"{r['generate']['seconds']:.0f}", f"{r['full']['marts_rows']['cohort']:,}"))  # fmt: skip
    out += ["rows loaded into raw (after the full refresh)", _fmt_table(head, rows), ""]

    head = ("scale", "stage", "seconds", "peak RSS MB", "RSS at start MB", "floor s", "x floor")
    rows = []
    for r in results:
        f, ss, mem = r["full"], r["full"]["stage_seconds"], r["full"]["stage_memory"]
        lf, tf = r["load_floor"], r["transform_floor"]
        floors = {"load": lf["seconds"], "dbt": tf["seconds"]}
        for st in STAGES:
            sec = ss.get(st, mem.get(st, {}).get("fn_seconds"))
            m = mem.get(st, {})
            fl = floors.get(st)
            label = st if st != "dbt_docs" else "(dbt docs)"
            rows.append((r["scale"], label, f"{sec:.1f}", f"{m.get('peak_rss_mb', 0):.0f}",
                         f"{m.get('rss_start_mb', 0):.0f}", f"{fl:.1f}" if fl else "",
                         f"{sec / fl:.2f}x" if fl else ""))  # fmt: skip
        peak = max(m["peak_rss_mb"] for m in mem.values())
        rows.append((r["scale"], "total (stages)", f"{sum(ss.values()):.1f}", f"{peak:.0f}", "",
                     "", ""))  # fmt: skip
        rows.append((r["scale"], "wall incl. start-up", f"{f['process_seconds']:.1f}",
                     f"+{f['prefect_server_peak_rss_mb']:.0f} server", "", "", ""))  # fmt: skip
    out += [
        "full refresh (seconds = the flow's stage_seconds; dbt floor = compiled models + data "
        "tests run directly; (dbt docs) runs between dbt and data_quality, outside every stage)",
        _fmt_table(head, rows, left=2),
        "",
    ]

    head = ("scale", "delta rows", "full s", "delta s", "delta/full", "load", "dbt", "dq",
            "analysis", "publish")  # fmt: skip
    rows = []
    for r in results:
        if "delta" not in r:
            continue
        fs, ds = sum(r["full"]["stage_seconds"].values()), r["delta"]["stage_seconds"]
        rows.append((r["scale"], f"{r['delta_drop']['rows']:,}", f"{fs:.1f}",
                     f"{sum(ds.values()):.1f}", f"{sum(ds.values()) / fs:.2f}",
                     *[f"{ds.get(s, 0):.1f}" for s in ("load", "dbt", "data_quality", "analysis",
                                                       "publish")]))  # fmt: skip
    if rows:
        out += ["delta refresh (one drop re-delivering ~0.5% of records) vs full refresh",
                _fmt_table(head, rows), ""]  # fmt: skip
    out += ["targets", *[f"  {t}" for t in targets(results)]]
    return "\n".join(out)


def targets(results: list[dict]) -> list[str]:
    lines = []
    by = {r["scale"]: r for r in results}

    def ok(b: bool) -> str:
        return "MET    " if b else "NOT MET"

    for r in results:
        ratio = r["full"]["stage_seconds"]["load"] / r["load_floor"]["seconds"]
        lines.append(f"{ok(ratio <= TARGETS['load_vs_floor_max'])} load within 1.5x of floor at "
                     f"scale {r['scale']}: {ratio:.2f}x")  # fmt: skip
    if 100 in by:
        f = by[100]["full"]
        tot = sum(f["stage_seconds"].values())
        peak = max(m["peak_rss_mb"] for m in f["stage_memory"].values())
        lines.append(f"{ok(tot < TARGETS['refresh_s100_max_s'])} scale 100 refresh under 10 min: "
                     f"{tot:.0f} s (stages), {f['process_seconds']:.0f} s wall")  # fmt: skip
        lines.append(f"{ok(peak < TARGETS['refresh_s100_max_peak_mb'])} scale 100 peak memory "
                     f"under 4 GB: {peak:.0f} MB")  # fmt: skip
    for r in results:
        if "delta" in r:
            q = sum(r["delta"]["stage_seconds"].values()) / sum(r["full"]["stage_seconds"].values())
            lines.append(f"{ok(q < TARGETS['delta_vs_full_max'])} delta under 1/3 of full at "
                         f"scale {r['scale']}: {q:.2f}")  # fmt: skip
    if 1 in by:
        w = by[1]["full"]["process_seconds"]
        lines.append(f"{ok(w < TARGETS['demo_s1_max_s'])} demo (scale 1) under 90 s incl. "
                     f"Prefect start-up: {w:.0f} s")  # fmt: skip
    return lines


def _machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    import duckdb

    return {
        "cpu_count": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=int, action="append", help="scale (repeat); default 1 10 100")
    p.add_argument("--keep", default=None, help="work in DIR and keep extracts and homes there")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--drops", type=int, default=2, help="drops generated per extract (default 2)")
    p.add_argument("--no-delta", action="store_true", help="skip the delta refresh")
    p.add_argument("--profile", action="store_true", help="cProfile each stage (slower)")
    p.add_argument("--out", default=None, help="results JSON (default bench/results/<stamp>.json)")
    p.add_argument("--child", choices=("refresh", "transform", "generate"), help=argparse.SUPPRESS)
    p.add_argument("--home", help=argparse.SUPPRESS)
    p.add_argument("--extracts", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--profile-dir", dest="profile_dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "refresh":
        _child_refresh(args.home, args.extracts, args.result, args.profile_dir)
        return 0
    if args.child == "transform":
        _child_transform(args.home, args.work, args.result)
        return 0
    if args.child == "generate":
        _child_generate(args.extracts, args.seed, args.scale[0], args.drops, args.result)
        return 0

    scales = args.scale or [1, 10, 100]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ildwh-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {"started": stamp, "machine": _machine(), "targets": TARGETS, "profiled": args.profile,
           "scales": []}  # fmt: skip
    out = Path(args.out) if args.out else RESULTS / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for s in scales:
            r = bench_scale(s, work, args.seed, args.drops, not args.no_delta, args.profile)
            doc["scales"].append(r)
            doc["targets_met"] = targets(doc["scales"])
            out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        print(f"cpus {os.cpu_count()}, memory {doc['machine']['memory_gb']} GB, load average now "
              f"{os.getloadavg()[0]:.1f}; results {out}")  # fmt: skip
        print(render(doc["scales"]))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

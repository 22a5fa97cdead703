"""Benchmark the raw loader against a bare DuckDB `read_csv` of the same files.

    python -m bench.load --scale 10 --scale 100      # generate extracts into a temp dir
    python -m bench.load --extracts DIR              # an existing extract root
    python -m bench.load --scale 10 --flow           # also time the Prefect flow

Each measurement runs in its own child process (so peak RSS, VmHWM, is its own) on a fresh
DuckDB file. "bare" is `CREATE TABLE AS SELECT * FROM read_csv(file, all_varchar=true,
header=true, ignore_errors=true)` per file (GB18030 files transcoded first, as the loader must);
"load" is `ildwh.load.load_extracts` (verify, checksums, parse, row rules, quarantine,
reconciliation, one transaction per drop); "flow" is `flows.load_raw.load_raw_flow`, including
the start of Prefect's temporary local API.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _vmhwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _bare(extracts: Path, db: Path) -> int:
    import duckdb

    from ildwh.load.manifest import discover_drops, read_manifest
    from ildwh.load.reader import transcode_to_utf8
    from ildwh.load.rules import lit

    con = duckdb.connect(str(db))
    rows = 0
    with tempfile.TemporaryDirectory(prefix="ildwh-bench-") as tmp:
        for d in discover_drops(extracts):
            m = read_manifest(d)
            for e in m.files:
                path = d / e.name
                if m.encoding == "gb18030":
                    path = transcode_to_utf8(m, e, Path(tmp))
                name = f'"{m.drop_id}_{e.table}"'
                con.execute(
                    f"create table {name} as select * from read_csv({lit(str(path))}, "
                    f"all_varchar = true, header = true, ignore_errors = true)"
                )
                rows += con.execute(f"select count(*) from {name}").fetchone()[0]
    con.close()
    return rows


def _child(mode: str, extracts: Path, db: Path) -> None:
    t0 = time.perf_counter()
    if mode == "bare":
        rows = _bare(extracts, db)
    elif mode == "load":
        from ildwh.load import load_extracts

        rows = load_extracts(extracts, db).rows_read
    else:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        from flows.load_raw import load_raw_flow

        rows = load_raw_flow(str(extracts), str(db)).rows_read
    seconds = time.perf_counter() - t0
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": _vmhwm_mb()}))


def _measure(mode: str, extracts: Path, work: Path) -> dict:
    db = work / f"{mode}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", "--child", mode, "--extracts", str(extracts),
         "--db", str(db)],
        check=True, capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(results: list[tuple[str, str, dict, dict]]) -> str:
    head = ("extract", "what", "rows", "seconds", "rows/s", "vs bare", "peak RSS MB")
    lines = []
    for label, mode, r, bare in results:
        ratio = r["seconds"] / bare["seconds"]
        lines.append(
            (label, mode, f"{r['rows']:,}", f"{r['seconds']:.2f}",
             f"{r['rows'] / r['seconds']:,.0f}", f"{ratio:.2f}x", f"{r['peak_rss_mb']:.0f}")
        )  # fmt: skip
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            v.ljust(w) if i < 2 else v.rjust(w)
            for i, (v, w) in enumerate(zip(x, widths, strict=True))
        )
        for x in [head, *lines]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=int, action="append", help="generate at this scale (repeat)")
    p.add_argument("--extracts", default=None, help="an existing extract root instead")
    p.add_argument("--drops", type=int, default=2, help="drops to generate (default 2)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--flow", action="store_true", help="also time the Prefect flow")
    p.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    p.add_argument("--child", choices=("bare", "load", "flow"), help=argparse.SUPPRESS)
    p.add_argument("--db", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, Path(args.extracts), Path(args.db))
        return 0

    work = Path(tempfile.mkdtemp(prefix="ildwh-bench-"))
    try:
        sources: list[tuple[str, Path]] = []
        if args.extracts:
            sources.append((Path(args.extracts).name, Path(args.extracts)))
        for scale in args.scale or ([] if args.extracts else [10]):
            from ildwh.synth import generate

            root = work / f"scale{scale}"
            t0 = time.perf_counter()
            generate(root, seed=args.seed, scale=scale, drops=args.drops)
            size = sum(f.stat().st_size for f in root.rglob("*.csv*")) / 1e6
            print(
                f"generated scale {scale} ({args.drops} drops, {size:.0f} MB of CSV) in "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            sources.append((f"scale {scale}", root))
        results = []
        modes = ["bare", "load"] + (["flow"] if args.flow else [])
        for label, root in sources:
            best: dict[str, dict] = {}
            for _ in range(args.repeat):
                for mode in modes:
                    r = _measure(mode, root, work)
                    if mode not in best or r["seconds"] < best[mode]["seconds"]:
                        best[mode] = r
            results.extend((label, m, best[m], best["bare"]) for m in modes)
        print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
        print(_table(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

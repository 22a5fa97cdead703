"""Where the loader's time goes: every DuckDB statement and helper of `ildwh.load`, timed.

    python -m bench.profile_load --extracts DIR [--db FILE]

Runs `ildwh.load.load_extracts` on a fresh database with the loader's connection wrapped so each
`execute` is timed, grouped by the statement's first words (temp-table numbers removed), and the
Python helpers (`verify_files`: checksums and line-break count; `transcode_to_utf8`) timed apart.
Prints the groups by total seconds. Nothing in `ildwh/` is changed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TIMES: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])


def _label(sql: str) -> str:
    s = re.sub(r"\s+", " ", sql.strip())
    s = re.sub(r"_ld_(\w+?)_\d+", r"_ld_\1_N", s)
    s = re.sub(r"raw\.\w+", "raw.T", s)
    return s[:70]


class _TimedCon:
    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args, **kwargs):
        t = time.perf_counter()
        try:
            self._con.execute(sql, *args, **kwargs)
            return self
        finally:
            rec = TIMES[_label(sql)]
            rec[0] += time.perf_counter() - t
            rec[1] += 1

    def __getattr__(self, name):
        return getattr(self._con, name)


def _timed(name: str, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            rec = TIMES[f"[python] {name}"]
            rec[0] += time.perf_counter() - t
            rec[1] += 1

    return wrapper


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_load")
    p.add_argument("--extracts", required=True)
    p.add_argument("--db", default=None)
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    from ildwh.load import loader, reader

    orig_connect = loader.connect
    loader.connect = lambda db: _TimedCon(orig_connect(db))
    loader.verify_files = _timed("verify_files (sha256 + line breaks)", loader.verify_files)
    for mod in (loader, reader):
        if hasattr(mod, "transcode_to_utf8"):
            mod.transcode_to_utf8 = _timed("transcode_to_utf8 (gb18030)", mod.transcode_to_utf8)
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="ildwh-prof-")) / "r.duckdb"
    t = time.perf_counter()
    rep = loader.load_extracts(Path(args.extracts), db)
    total = time.perf_counter() - t
    print(f"load_extracts: {rep.rows_read:,} rows in {total:.1f} s")
    for label, (sec, n) in sorted(TIMES.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{sec:7.2f} s {sec / total:5.1%} x{n:<4d} {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The transform floor: the dbt project's compiled SQL run straight in DuckDB, without dbt.

`transform_floor(home, work)` reads `<home>/work/dbt-target/manifest.json` (written by the refresh's
`dbt build`), creates `<work>/build.duckdb` (the same database name `build` the compiled SQL
refers to), attaches `<home>/warehouse/restricted.duckdb` READ_ONLY as `restricted`, sets the HMAC
pad variables exactly as `ildwh.dbt_plugin` does, copies the seed tables from the refresh's build
database, then times:

- models: `create table "build"."<schema>"."<name>" as <compiled_code>` for every model in
  dependency order (graphlib over `depends_on.nodes`);
- data tests: `select count(*) from (<compiled_code>)` for every data test (dbt wraps a test the
  same way). Unit tests are fixed-size fixtures and are left out.
"""

from __future__ import annotations

import json
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from ildwh import IldwhError
from ildwh.config import Paths
from ildwh.keys import hmac_pads, load_key
from ildwh.load.rules import lit


def _ordered_models(manifest: dict) -> list[dict]:
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    graph = {k: [d for d in v["depends_on"]["nodes"] if d in models] for k, v in models.items()}
    return [models[k] for k in TopologicalSorter(graph).static_order()]


def transform_floor(home: Path, work: Path) -> dict:
    paths = Paths.at(home)
    mpath = paths.work_dir / "dbt-target" / "manifest.json"
    if not mpath.exists():
        raise IldwhError(f"{mpath} does not exist: run the refresh (dbt build) on {home} first")
    manifest = json.loads(mpath.read_text())
    work.mkdir(parents=True, exist_ok=True)
    db = work / "build.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    key_file = paths.key_file if paths.key_file.exists() else None
    ipad, opad = hmac_pads(load_key(key_file, create=False))
    con.execute(f"set variable ildwh_hmac_ipad = '{ipad}'")
    con.execute(f"set variable ildwh_hmac_opad = '{opad}'")
    con.execute(f"attach {lit(str(paths.restricted_db))} as restricted (read_only)")
    con.execute(f"attach {lit(str(paths.build_db))} as src (read_only)")
    seeds = [v for v in manifest["nodes"].values() if v["resource_type"] == "seed"]
    schemas = {n["schema"] for n in manifest["nodes"].values() if n["resource_type"] != "test"}
    for s in sorted(schemas):
        con.execute(f'create schema if not exists build."{s}"')
    for s in seeds:
        con.execute(
            f'create table build."{s["schema"]}"."{s["alias"]}" as '
            f'select * from src."{s["schema"]}"."{s["alias"]}"'
        )
    con.execute("detach src")
    per_model: dict[str, float] = {}
    t0 = time.perf_counter()
    for m in _ordered_models(manifest):
        t = time.perf_counter()
        con.execute(f"create table {m['relation_name']} as (\n{m['compiled_code']}\n)")
        per_model[m["name"]] = time.perf_counter() - t
    models_s = time.perf_counter() - t0
    tests = [
        v
        for v in manifest["nodes"].values()
        if v["resource_type"] == "test" and v.get("compiled_code")
    ]
    t0 = time.perf_counter()
    for t in tests:
        con.execute(f"select count(*) from (\n{t['compiled_code']}\n) as dbt_internal_test")
        con.fetchall()
    tests_s = time.perf_counter() - t0
    con.close()
    top = sorted(per_model.items(), key=lambda kv: -kv[1])[:6]
    return {
        "models_seconds": models_s,
        "tests_seconds": tests_s,
        "seconds": models_s + tests_s,
        "n_models": len(per_model),
        "n_tests": len(tests),
        "slowest_models": {k: round(v, 3) for k, v in top},
    }

"""Run the dbt project in-process with `dbt.cli.main.dbtRunner` against one home folder.

`dbt_build(paths)` builds `paths.build_db` from `paths.restricted_db` (attached read only);
target and log folders live under `paths.work_dir` so parallel runs on different homes never
collide. Nothing here holds a study rule: those are in `dbt_project/`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ildwh import IldwhError
from ildwh.config import DBT_PROJECT_DIR, Paths

# dbtRunner is not re-entrant and reads os.environ: one invocation at a time per process.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt invocation."""

    ok: bool
    n_models: int
    n_tests: int
    n_failed: int
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    command: str = "build"

    def summary_text(self) -> str:
        head = (
            f"dbt {self.command}: {'OK' if self.ok else 'FAILED'} - {self.n_models} models, "
            f"{self.n_tests} tests, {self.n_failed} failed, {self.elapsed_s:.1f} s"
        )
        return "\n".join([head, *(f"  - {f}" for f in self.failures)])


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _args(command: str, paths: Paths, target_path: Path | None) -> list[str]:
    target = Path(target_path) if target_path else paths.work_dir / "dbt-target"
    return [
        command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(paths.work_dir / "dbt-logs"),
        "--no-use-colors",
        "--quiet",
    ]


def _invoke(args: list[str], paths: Paths) -> Any:
    from dbt.cli.main import dbtRunner

    if not paths.restricted_db.exists():
        raise IldwhError(
            f"{paths.restricted_db} does not exist: load an extract first (`ildwh load`)."
        )
    paths.work_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "ILDWH_BUILD_DB": str(paths.build_db),
        "ILDWH_RESTRICTED_DB": str(paths.restricted_db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if "ILDWH_PSEUDONYM_KEY" not in os.environ and "ILDWH_KEY_FILE" not in os.environ:
        env["ILDWH_KEY_FILE"] = str(paths.key_file)
    with _LOCK, _environment(env):
        try:
            return dbtRunner().invoke(args)
        finally:
            _close_duckdb()


def _close_duckdb() -> None:
    """Close dbt-duckdb's cached DuckDB connection so build.duckdb and restricted.duckdb are free
    for other connections in this process (the gate, publish, the loader)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()


def _node_results(res: Any) -> list[Any]:
    result = getattr(res, "result", None)
    return list(getattr(result, "results", None) or [])


def dbt_build(
    paths: Paths,
    select: str | None = None,
    vars: dict | None = None,
    target_path: Path | None = None,
    unit_tests: bool = True,
) -> DbtResult:
    """Run `dbt build` (seeds, models, data tests, unit tests) into `paths.build_db`.

    `unit_tests=False` leaves out dbt's unit tests: they check the SQL of each rule on fixed
    fixtures, not the night's data, so the nightly refresh skips them (CI runs them in `make test`).

    The build database is re-created from scratch. `select` is a dbt selector; `vars` override
    `dbt_project.yml` vars (study parameters). Returns a DbtResult; never raises on a failed node.
    """
    paths.work_dir.mkdir(parents=True, exist_ok=True)
    if select is None:
        for suffix in ("", ".wal"):
            Path(str(paths.build_db) + suffix).unlink(missing_ok=True)
    args = _args("build", paths, target_path)
    if select:
        args += ["--select", select]
    if vars:
        args += ["--vars", json.dumps(vars)]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    start = time.perf_counter()
    res = _invoke(args, paths)
    elapsed = time.perf_counter() - start
    n_models = n_tests = 0
    failures: list[str] = []
    for r in _node_results(res):
        node = r.node
        rtype = getattr(node, "resource_type", "")
        rtype = getattr(rtype, "value", rtype)
        if rtype == "model":
            n_models += 1
        elif rtype in ("test", "unit_test"):
            n_tests += 1
        status = getattr(r.status, "value", str(r.status))
        if status in ("error", "fail", "runtime error"):
            failures.append(f"{node.unique_id}: {status}: {(r.message or '').strip()}")
    if not res.success and not failures:
        failures.append(f"dbt build did not run: {res.exception}")
    return DbtResult(
        ok=bool(res.success) and not failures,
        n_models=n_models,
        n_tests=n_tests,
        n_failed=len(failures),
        failures=failures,
        elapsed_s=elapsed,
    )


def dbt_docs_generate(
    paths: Paths, target_path: Path | None = None, out_dir: Path | None = None
) -> Path:
    """Run `dbt docs generate --static` against the build database.

    Returns the folder holding `index.html` (a self-contained page), `catalog.json` and
    `manifest.json`: `out_dir` when given (files copied there), else the dbt target folder.
    """
    target = Path(target_path) if target_path else paths.work_dir / "dbt-docs-target"
    args = _args("docs", paths, target)
    res = _invoke([args[0], "generate", "--static", *args[1:]], paths)
    if not res.success:
        raise IldwhError(
            f"dbt docs generate failed in {DBT_PROJECT_DIR}: {res.exception}. "
            "Fix: run dbt_build first so the build database exists."
        )
    if out_dir is None:
        return target
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target / "static_index.html", out / "index.html")
    for name in ("catalog.json", "manifest.json"):
        shutil.copyfile(target / name, out / name)
    return out

"""The steward's one-page data-quality summary (``dq-summary.html``, self-contained Jinja2 page)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).with_name("templates")
SEVERITY_ORDER = {"error": 0, "warn": 1, "info": 2}
CATEGORY_ORDER = {"conformance": 0, "completeness": 1, "plausibility": 2}


def _change(row: dict[str, Any]) -> str:
    prev = row.get("previous_n_failed")
    if prev is None:
        return "new" if row.get("previous_status") is None else "-"
    delta = int(row["n_failed"]) - int(prev)
    return "no change" if delta == 0 else f"{delta:+d}"


def write_summary(
    path: Path,
    *,
    rows: list[dict[str, Any]],
    counts: dict[str, dict[str, int]],
    ok: bool,
    run_id: str,
    db_path: Path,
    elapsed_s: float,
    loader: dict[str, Any],
    history_run: str | None,
    data_docs: Path | None,
    previous_db: Path | None,
) -> Path:
    """Render the summary page to ``path`` and return it."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    view = []
    for r in rows:
        v = dict(r)
        v["examples_list"] = json.loads(r["examples"] or "[]")
        v["change"] = _change(r) if history_run else "-"
        v["share_text"] = "-" if r["failed_share"] is None else f"{r['failed_share']:.2%}"
        view.append(v)
    view.sort(
        key=lambda v: (
            SEVERITY_ORDER[v["severity"]],
            CATEGORY_ORDER[v["category"]],
            v["check_name"],
        )
    )
    failures = [v for v in view if v["status"] == "failed" and v["severity"] != "info"]
    by_group: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for v in failures:
        by_group[(v["severity"], v["category"])].append(v)
    flags = [v for v in view if v["severity"] == "info"]
    quarantine = loader.get("quarantine")
    recon = loader.get("reconciliation")
    recon_totals = None
    if recon:
        recon_totals = [sum(int(r[i] or 0) for r in recon) for i in range(2, 7)]
    html = env.get_template("dq_summary.html.j2").render(
        ok=ok,
        run_id=run_id,
        db_path=str(db_path),
        elapsed_s=elapsed_s,
        counts=counts,
        groups=sorted(
            by_group.items(), key=lambda kv: (SEVERITY_ORDER[kv[0][0]], CATEGORY_ORDER[kv[0][1]])
        ),
        flags=flags,
        all_rows=view,
        quarantine=quarantine,
        recon=recon,
        recon_totals=recon_totals,
        history_run=history_run,
        data_docs=(Path("data-docs") / "index.html").as_posix() if data_docs else None,
        previous_db=str(previous_db) if previous_db else None,
        n_not_applicable=sum(1 for v in view if v["status"] == "not_applicable"),
    )
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path

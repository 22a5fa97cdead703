"""A contract-valid delta drop that re-delivers a small share of current records (bench only).

`write_redelivery_drop(extract_root, restricted_db, share=0.005)` appends one `delta` drop to an
extract root that has been loaded into `restricted_db`: for every contract table it takes `share`
of the records that are current and were delivered exactly once (so the re-delivered row IS the
current version; patients also only when their mrn has one registration), and delivers them again
with `updated_at` one hour before the new drop's `extracted_at`. Values are copied exactly as
delivered (raw layer), so the study result does not change; what changes is what a nightly run sees:
new record versions in every table. Plain UTF-8, no BOM, header in contract order.

The rows come from the raw layer rather than the CSV files only because it already holds every
delivered value verbatim with its drop; quarantined rows are not in it, so none is re-delivered.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from ildwh import IldwhError
from ildwh.contract import TABLES


def _next_drop(root: Path) -> tuple[str, str, str]:
    ids = sorted(p.parent.name for p in root.glob("*/manifest.json"))
    if not ids:
        raise IldwhError(f"{root}: no drop folder with manifest.json; generate the extract first")
    last = dt.date.fromisoformat(ids[-1][:10])
    day = last + dt.timedelta(days=1)
    drop_id = day.isoformat()
    return drop_id, f"{drop_id}T02:00:00+08:00", f"{drop_id} 01:00:00+08:00"


def write_redelivery_drop(
    extract_root: Path, restricted_db: Path, share: float = 0.005, salt: str = "bench"
) -> dict:
    """Write the next delta drop under `extract_root`; return its manifest plus `rows_total`.

    `share` of each table's once-delivered current records (at least one per table) is chosen by a
    hash of the record_id and `salt` (deterministic: same extract, same drop).
    """
    root = Path(extract_root)
    drop_id, extracted_at, updated_at = _next_drop(root)
    out_dir = root / drop_id
    out_dir.mkdir(parents=True, exist_ok=False)
    con = duckdb.connect(str(restricted_db), read_only=True)
    files = []
    try:
        for table, cols in TABLES.items():
            n_current = con.execute(f"select count(distinct record_id) from raw.{table}").fetchone()
            n = max(1, round(n_current[0] * share))
            once = "count(*) over (partition by record_id) = 1"
            if table == "patients":
                once += " and count(*) over (partition by upper(trim(mrn))) = 1"
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(
                f"select {select} from (select *, {once} as once from raw.{table}) "
                f"where once and coalesce(trim(is_deleted), '') <> '1' "
                f"order by hash(record_id || ?) limit {n}",
                [salt],
            ).fetchall()
            i_upd = cols.index("updated_at")
            path = out_dir / f"{table}.csv"
            with open(path, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(cols)
                for r in rows:
                    vals = ["" if v is None else str(v) for v in r]
                    vals[i_upd] = updated_at
                    w.writerow(vals)
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            files.append({"name": path.name, "table": table, "rows": len(rows), "sha256": sha})
    finally:
        con.close()
    manifest = {
        "drop_id": drop_id,
        "kind": "delta",
        "extracted_at": extracted_at,
        "source_system": "ildwh bench re-delivery",
        "encoding": "utf-8",
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {**manifest, "rows_total": sum(f["rows"] for f in files)}

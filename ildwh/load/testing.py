"""Write small drops byte for byte (tests, examples): CSV bytes + a manifest with real checksums."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

from ildwh import contract


def csv_text(table: str, rows: list[dict], columns: list[str] | None = None) -> str:
    """A CSV (header + rows, `\\n` line ends, RFC 4180 quoting) of `rows` for a contract table."""
    cols = columns or list(contract.TABLES[table])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c.strip().lower(), r.get(c, "")) for c in cols])
    return buf.getvalue()


def count_rows(data: bytes, encoding: str) -> int:
    """Data rows (records after the header, blank lines not counted) of decoded CSV bytes."""
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    records = list(csv.reader(io.StringIO(text, newline="")))
    return sum(1 for r in records[1:] if r)


def write_drop(
    root: Path,
    drop_id: str,
    files: dict[str, str | bytes],
    *,
    encoding: str = "utf-8",
    kind: str = "full",
    extracted_at: str | None = None,
    gz: tuple[str, ...] = (),
    rows: dict[str, int] | None = None,
    source_system: str = "HIS/LIS/RIS export v3",
) -> Path:
    """Write `<root>/<drop_id>/` with one file per table and a correct `manifest.json`.

    `files` maps table -> CSV text (encoded with `encoding`) or raw bytes (written as given);
    tables in `gz` are gzipped; `rows` overrides the manifest row count of a table.
    """
    d = Path(root) / drop_id
    d.mkdir(parents=True, exist_ok=True)
    entries = []
    for table, content in files.items():
        data = content if isinstance(content, bytes) else content.encode(encoding)
        n = (rows or {}).get(table)
        if n is None:
            n = count_rows(data, encoding)
        name = f"{table}.csv"
        if table in gz:
            name += ".gz"
            data = gzip.compress(data, mtime=0)
        (d / name).write_bytes(data)
        entries.append(
            {"name": name, "table": table, "rows": n, "sha256": hashlib.sha256(data).hexdigest()}
        )
    manifest = {
        "drop_id": drop_id,
        "kind": kind,
        "extracted_at": extracted_at or f"{drop_id[:10]}T02:00:00+08:00",
        "source_system": source_system,
        "encoding": encoding,
        "files": entries,
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return d

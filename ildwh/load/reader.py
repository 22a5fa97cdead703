"""Read one delivered CSV file into a DuckDB temp table, with DuckDB's own CSV reader.

The header is read in Python (one line) to map columns case-insensitively; the data is parsed by
`read_csv(..., all_varchar=true, store_rejects=true)`, so no row passes through Python. Gzipped
and GB18030 files are first streamed into a temporary plain UTF-8 file (DuckDB's encodings
extension cannot be downloaded on these machines; and DuckDB reads a .gz file on one thread, a
plain file on all of them), counting line breaks on the way as `file_digest` does for plain files.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ildwh import contract
from ildwh.load.manifest import DropError, FileEntry, Manifest
from ildwh.load.rules import lit, parsed_columns, parsed_name, q, reason_sql

_CHUNK = 4 << 20


@dataclass(frozen=True)
class Header:
    """The header of one file: its column names and where each contract column sits."""

    names: tuple[str, ...]  # as delivered (BOM removed)
    contract_pos: dict[str, int]  # contract column -> 0-based position
    extra_pos: tuple[tuple[str, int], ...]  # (name as delivered, trimmed; position)


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def read_header(manifest: Manifest, entry: FileEntry) -> Header:
    """Parse line 1 of the file and map it onto the contract columns of its table."""
    path = manifest.drop_dir / entry.name

    def bad(problem: str) -> DropError:
        return DropError(manifest.drop_id, entry.name, problem)

    with _open(path) as fh:
        first = fh.readline()
    if not first.strip():
        raise bad("line 1: the file is empty or its header line is blank")
    try:
        text = first.decode("utf-8-sig" if manifest.encoding == "utf-8" else "gb18030")
    except UnicodeDecodeError as exc:
        raise bad(
            f"line 1 (header): bytes that are not {manifest.encoding} at byte {exc.start + 1}"
        ) from None
    text = text.lstrip("\ufeff").rstrip("\r\n")
    names = next(csv.reader([text]))
    contract_pos: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    wanted = contract.TABLES[entry.table]
    for pos, name in enumerate(names):
        key = name.strip().lower()
        if key in wanted:
            if key in contract_pos:
                raise bad(f'line 1 (header): column "{key}" appears twice')
            contract_pos[key] = pos
        else:
            extras.append((name.strip(), pos))
    missing = [c for c in wanted if c not in contract_pos]
    if missing:
        raise bad(
            f"line 1 (header): required column(s) missing: {', '.join(missing)} "
            f"(header has: {', '.join(n.strip() for n in names)})"
        )
    return Header(tuple(names), contract_pos, tuple(extras))


def plain_copy(manifest: Manifest, entry: FileEntry, out_dir: Path) -> tuple[Path, int]:
    """Stream a gzipped and/or GB18030 file into a plain UTF-8 file under `out_dir`.

    Returns the path and the line breaks before the final run of line breaks (see
    `manifest.file_digest`; GB18030 never uses byte 0x0A inside a character).
    """
    src_path = manifest.drop_dir / entry.name
    out = out_dir / f"{entry.table}.utf8.csv"
    gb = manifest.encoding == "gb18030"
    decoder = codecs.getincrementaldecoder("gb18030")(errors="strict") if gb else None
    newlines = 0
    tail = b""
    try:
        with _open(src_path) as src, open(out, "wb") as dst:
            while True:
                chunk = src.read(_CHUNK)
                if decoder is not None:
                    try:
                        text = decoder.decode(chunk, final=not chunk)
                    except UnicodeDecodeError as exc:
                        line = newlines + chunk[: max(exc.start, 0)].count(b"\n") + 1
                        raise DropError(
                            manifest.drop_id,
                            entry.name,
                            f"line {line}: bytes that are not valid GB18030 "
                            f"(manifest declares gb18030)",
                        ) from None
                    if text:
                        dst.write(text.encode("utf-8"))
                elif chunk:
                    dst.write(chunk)
                if not chunk:
                    break
                newlines += chunk.count(b"\n")
                tail = (tail + chunk)[-4096:]
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise DropError(manifest.drop_id, entry.name, f"not a readable gzip file ({exc})") from None
    stripped = tail.rstrip(b"\r\n")
    final_run = tail[len(stripped) :].count(b"\n") if stripped else tail.count(b"\n")
    return out, newlines - final_run


def transcode_to_utf8(manifest: Manifest, entry: FileEntry, out_dir: Path) -> Path:
    """Stream a GB18030 file (optionally gzipped) into a UTF-8 file under `out_dir`."""
    return plain_copy(manifest, entry, out_dir)[0]


def newline_count_sql(cols: list[str]) -> str:
    """Embedded line breaks in a row (cheap: the count is only computed when one is present)."""
    any_nl = f"contains(concat({', '.join(cols)}), chr(10))"
    total = " + ".join(
        f"coalesce(length({c}) - length(replace({c}, chr(10), '')), 0)" for c in cols
    )
    return f"(case when {any_nl} then {total} else 0 end)::integer"


def stage_sql(
    manifest: Manifest,
    entry: FileEntry,
    header: Header,
    csv_path: Path,
    stage: str,
    rejects_table: str,
    rejects_scan: str,
    count_breaks: bool = True,
) -> str:
    """CREATE TEMP TABLE `stage` with the contract columns, `_extra`, `_nl`, `_reason`.

    Row order is the file's order, so the temp table's rowid is the ordinal among the rows that
    DuckDB parsed (malformed rows go to the rejects table with their record number).
    """
    table = entry.table
    n = len(header.names)
    colspec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"
    compression = "gzip" if csv_path.name.endswith(".gz") else "none"
    read = (
        f"read_csv({lit(str(csv_path))}, header = true, all_varchar = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', columns = {colspec}, "
        f"compression = '{compression}', null_padding = false, "
        f"store_rejects = true, rejects_table = '{rejects_table}', "
        f"rejects_scan = '{rejects_scan}')"
    )
    cols = list(contract.TABLES[table])
    select = [f"c{header.contract_pos[c]} as {q(c)}" for c in cols]
    if header.extra_pos:
        seen: dict[str, int] = {}
        parts = []
        for name, pos in header.extra_pos:
            key = name if name not in seen else f"{name}_{seen[name] + 1}"
            seen[name] = seen.get(name, 0) + 1
            parts.append(f"{lit(key)}, c{pos}")
        select.append(f"json_object({', '.join(parts)})::varchar as _extra")
    else:
        select.append("null::varchar as _extra")
    if count_breaks:
        select.append(f"{newline_count_sql([f'c{i}' for i in range(n)])} as _nl")
    else:
        select.append("0 as _nl")
    parsed = [f"ildwh_ts({q(c)}) as {q(parsed_name(c))}" for c in parsed_columns(table)]
    reason, _ = reason_sql(table, manifest.extracted_at)
    all_cols = ", ".join(q(c) for c in [*cols, "_extra"])
    return f"""
create temp table {stage} as
select {all_cols}, _nl, {reason} as _reason
from (
    select *, {", ".join(parsed)}
    from (select {", ".join(select)} from {read})
)
"""


def detail_sql(manifest: Manifest, table: str, stage: str) -> str:
    """SELECT rowid, detail for the rows of `stage` that a rule quarantined (few: re-parse)."""
    parsed = [f"ildwh_ts({q(c)}) as {q(parsed_name(c))}" for c in parsed_columns(table)]
    _, detail = reason_sql(table, manifest.extracted_at)
    return (
        f"select rid, {detail} as detail from (select rowid as rid, *, {', '.join(parsed)} "
        f"from {stage} where _reason is not null)"
    )

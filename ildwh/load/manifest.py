"""Find the drops under an extract root and verify each one against its manifest.

Nothing here touches the warehouse: a drop is verified (manifest, file list, checksums) before the
loader writes anything, and a bad drop raises :class:`ildwh.IldwhError` naming the drop, the file
and the fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ildwh import IldwhError, contract

DROP_ID_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{6})?$")
MANIFEST = "manifest.json"
_SHA_RE = re.compile(r"^[0-9a-fA-F]{64}$")
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991; the extracts are recent.
_LOCAL_OFFSET = timezone(timedelta(hours=8))


class DropError(IldwhError):
    """A drop that cannot be loaded as delivered (the hospital must re-deliver or fix it)."""

    def __init__(self, drop_id: str, file: str, problem: str, fix: str | None = None):
        self.drop_id, self.file, self.problem = drop_id, file, problem
        self.fix = fix or f"ask the hospital to re-deliver drop {drop_id}"
        self.later: list[str] = []
        super().__init__(self._text())

    def _text(self) -> str:
        text = (
            f"drop {self.drop_id} refused: {self.file}: {self.problem}. Fix: {self.fix}. "
            f"Nothing of drop {self.drop_id} was loaded; drops loaded before it are unchanged."
        )
        if self.later:
            text += (
                f" Later drops were not loaded in this run because drops load in order: "
                f"{', '.join(self.later)}."
            )
        return text

    def with_later(self, later: list[str]) -> DropError:
        """Name the later drops that this refusal held back (the message says so)."""
        self.later = list(later)
        self.args = (self._text(),)
        return self


@dataclass(frozen=True)
class FileEntry:
    """One file listed in a manifest."""

    name: str
    table: str
    rows: int
    sha256: str

    @property
    def gzipped(self) -> bool:
        return self.name.endswith(".gz")


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked `manifest.json` of one drop."""

    drop_dir: Path
    drop_id: str
    kind: str
    extracted_at: datetime  # naive, Asia/Shanghai local time
    source_system: str
    encoding: str
    files: tuple[FileEntry, ...]
    manifest_sha256: str

    @property
    def rows_manifest(self) -> int:
        return sum(f.rows for f in self.files)


def discover_drops(extract_root: Path) -> list[Path]:
    """Drop folders under `extract_root` in drop_id order (`_truth` and other names ignored)."""
    extract_root = Path(extract_root)
    if not extract_root.is_dir():
        raise IldwhError(
            f"{extract_root}: extract root not found. Fix: pass the folder that holds the drop "
            f"folders (YYYY-MM-DD or YYYY-MM-DDTHHMMSS), e.g. --extracts /path/to/extracts."
        )
    return sorted(
        (p for p in extract_root.iterdir() if p.is_dir() and DROP_ID_RE.match(p.name)),
        key=lambda p: p.name,
    )


def parse_extracted_at(text: str) -> datetime:
    """ISO timestamp from a manifest -> naive Asia/Shanghai local time (no offset = local)."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(_LOCAL_OFFSET).replace(tzinfo=None)
    return value


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the bytes as delivered (a .gz file is hashed compressed)."""
    return file_digest(path, chunk)[0]


def file_digest(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256, line breaks before the file's final run of line breaks) in one read.

    The second number equals the data row count when no field holds a line break (header +
    rows, separated by one line break each; trailing blank lines not counted); the loader uses
    it to skip looking for embedded line breaks. Not meaningful for a .gz file.
    """
    digest = hashlib.sha256()
    newlines = 0
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
            newlines += block.count(b"\n")
            tail = (tail + block)[-4096:]
    stripped = tail.rstrip(b"\r\n")
    final_run = tail[len(stripped) :].count(b"\n") if stripped else tail.count(b"\n")
    return digest.hexdigest(), newlines - final_run


def read_manifest(drop_dir: Path) -> Manifest:
    """Parse and check `manifest.json` of one drop; raise DropError on any problem."""
    drop_dir = Path(drop_dir)
    drop_id = drop_dir.name
    path = drop_dir / MANIFEST
    if not path.is_file():
        raise DropError(drop_id, MANIFEST, f"manifest missing ({path} does not exist)")
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DropError(drop_id, MANIFEST, f"manifest is not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DropError(
            drop_id, MANIFEST, f"manifest is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(doc, dict):
        raise DropError(drop_id, MANIFEST, "manifest is not a JSON object")

    def bad(problem: str) -> DropError:
        return DropError(drop_id, MANIFEST, problem)

    for key in ("drop_id", "kind", "extracted_at", "encoding", "files"):
        if key not in doc:
            raise bad(f'manifest has no "{key}"')
    if doc["drop_id"] != drop_id:
        raise bad(f'manifest says drop_id "{doc["drop_id"]}" but the folder is "{drop_id}"')
    kind = str(doc["kind"]).strip().lower()
    if kind not in contract.DROP_KINDS:
        raise bad(f'kind "{doc["kind"]}" is not one of {", ".join(contract.DROP_KINDS)}')
    encoding = str(doc["encoding"]).strip().lower()
    if encoding not in contract.ENCODINGS:
        raise bad(f'encoding "{doc["encoding"]}" is not one of {", ".join(contract.ENCODINGS)}')
    try:
        extracted_at = parse_extracted_at(str(doc["extracted_at"]))
    except ValueError:
        raise bad(f'extracted_at "{doc["extracted_at"]}" is not an ISO timestamp') from None
    if not isinstance(doc["files"], list):
        raise bad('"files" is not a list')

    files: list[FileEntry] = []
    seen_tables: set[str] = set()
    for i, item in enumerate(doc["files"], start=1):
        where = f"files[{i}]"
        if not isinstance(item, dict) or not {"name", "table", "rows", "sha256"} <= item.keys():
            raise bad(f"{where} needs name, table, rows and sha256")
        name, table = str(item["name"]), str(item["table"])
        if table not in contract.TABLES:
            raise bad(f'{where}: table "{table}" is not a contract table')
        if name not in (f"{table}.csv", f"{table}.csv.gz"):
            raise bad(f'{where}: file "{name}" should be named {table}.csv or {table}.csv.gz')
        if table in seen_tables:
            raise bad(f'{where}: table "{table}" is listed twice')
        seen_tables.add(table)
        rows = item["rows"]
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise bad(f'{where}: rows "{rows}" is not a non-negative integer')
        sha = str(item["sha256"])
        if not _SHA_RE.match(sha):
            raise bad(f'{where}: sha256 "{sha}" is not 64 hex digits')
        files.append(FileEntry(name, table, rows, sha.lower()))

    return Manifest(
        drop_dir=drop_dir,
        drop_id=drop_id,
        kind=kind,
        extracted_at=extracted_at,
        source_system=str(doc.get("source_system", "")),
        encoding=encoding,
        files=tuple(files),
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
    )


def verify_files(manifest: Manifest) -> dict[str, int | None]:
    """Every listed file present with its checksum; no file in the folder left unlisted.

    Returns file name -> line breaks between header and last row (None for .gz), see
    `file_digest`.
    """
    listed = {f.name for f in manifest.files} | {MANIFEST}
    extra = sorted(p.name for p in manifest.drop_dir.iterdir() if p.name not in listed)
    if extra:
        raise DropError(
            manifest.drop_id,
            extra[0],
            f"file(s) in the drop folder not listed in the manifest: {', '.join(extra)}",
            f"ask the hospital to re-deliver drop {manifest.drop_id} with a manifest that lists "
            f"every file (or remove the stray file if it is not theirs)",
        )
    breaks: dict[str, int | None] = {}
    for entry in manifest.files:
        path = manifest.drop_dir / entry.name
        if not path.is_file():
            raise DropError(manifest.drop_id, entry.name, "listed in the manifest but missing")
        actual, breaks[entry.name] = file_digest(path)
        if entry.gzipped:
            breaks[entry.name] = None
        if actual != entry.sha256:
            raise DropError(
                manifest.drop_id,
                entry.name,
                f"checksum mismatch: manifest sha256 {entry.sha256}, file has {actual} "
                f"(damaged or changed after the manifest was written)",
            )
    return breaks

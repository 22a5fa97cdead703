"""The raw loader: every new drop under an extract root -> the restricted DuckDB raw layer.

`load_extracts(extract_root, db_path, force=False, progress=None) -> LoadReport` is the entry point;
`flows/load_raw.py` orchestrates the same steps as Prefect tasks (`discover_drops`, `load_drop`).
See docs/architecture.md ("Raw layer") and ../shared/spec/raw-extract-contract.md.
"""

from ildwh.load.loader import connect, load_drop, load_extracts
from ildwh.load.manifest import DropError, discover_drops, read_manifest, verify_files
from ildwh.load.report import DropResult, LoadReport

__all__ = [
    "DropError",
    "DropResult",
    "LoadReport",
    "connect",
    "discover_drops",
    "load_drop",
    "load_extracts",
    "read_manifest",
    "verify_files",
]

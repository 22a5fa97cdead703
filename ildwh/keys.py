"""The pseudonym key and the reference implementation of `person_key`.

person_key = first 32 lowercase hex characters of HMAC-SHA256(key, upper(trim(mrn))).
The key comes from `ILDWH_PSEUDONYM_KEY`, else from the key file (created with mode 0600 on first use).
It is never written into the warehouse; dbt receives it only as HMAC pads set on the DuckDB connection
by `ildwh.dbt_plugin`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV_VAR = "ILDWH_PSEUDONYM_KEY"
BLOCK = 64  # SHA-256 block size in bytes


def load_key(key_file: Path | None = None, create: bool = True) -> bytes:
    """Return the key bytes from the environment, else from `key_file` (created 0600 if missing)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env.encode("utf-8")
    if key_file is None:
        from ildwh.config import Paths

        key_file = Paths.at().key_file
    key_file = Path(key_file)
    if not key_file.exists():
        if not create:
            raise FileNotFoundError(
                f"pseudonym key file {key_file} does not exist; set {ENV_VAR} or run a refresh first"
            )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    os.chmod(key_file, 0o600)
    return key_file.read_text().strip().encode("utf-8")


def normalise_mrn(mrn: str) -> str:
    return mrn.strip().upper()


def person_key(mrn: str, key: bytes) -> str:
    """Reference pseudonym: HMAC-SHA256(key, upper(trim(mrn))) hex, first 32 characters."""
    return hmac.new(key, normalise_mrn(mrn).encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def hmac_pads(key: bytes) -> tuple[str, str]:
    """The inner and outer HMAC pads (hex) so SQL can compute the same HMAC with sha256()."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\x00")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    return ipad.hex(), opad.hex()

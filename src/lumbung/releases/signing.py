"""A release manifest signed with Ed25519: anyone with the public key can check it.

The signature (`manifest.sig` beside `manifest.json`) names the key it was made with and its
public half; it is checked against the key of that name in this installation's key file, so a
manifest re-signed with a key of someone else's making is refused. `lumbung keys public` prints
the public keys, for auditors who check releases without access to the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from lumbung.audit.keys import keyring

SIGNATURE = "manifest.sig"


def sign(body: bytes) -> dict[str, str]:
    key = keyring().current
    return {
        "algorithm": "ed25519",
        "key_id": key.id,
        "public_key": key.public_hex(),
        "signature": key.signing_key().sign(body).hex(),
    }


def signature_problems(folder: Path, body: bytes) -> list[str]:
    """Why the manifest's signature does not hold (empty when it does)."""
    path = folder / SIGNATURE
    try:
        signed: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"{SIGNATURE} tidak ada: manifest tidak bertanda tangan"]
    except (OSError, ValueError, UnicodeDecodeError):
        return [f"{SIGNATURE} rusak"]
    ring = keyring()
    key = ring.keys.get(str(signed.get("key_id"))) if isinstance(signed, dict) else None
    if key is None:
        return [f"{SIGNATURE}: kunci penanda tangan tidak dikenal"]
    if signed.get("public_key") != key.public_hex():
        return [f"{SIGNATURE}: kunci publik bukan milik instalasi ini"]
    try:
        key.signing_key().public_key().verify(bytes.fromhex(str(signed["signature"])), body)
    except (InvalidSignature, ValueError, KeyError):
        return [f"{SIGNATURE}: tanda tangan tidak cocok dengan manifest.json"]
    return []

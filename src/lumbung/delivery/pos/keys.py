"""The voucher keys of this installation: one Ed25519 key derived from each key of the key file
(`audit/keys.py`), the current one signing new vouchers, every one verifying."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumbung.audit.keys import Keyring, keyring
from lumbung.delivery.pos import token


@dataclass(frozen=True, slots=True)
class PublicKey:
    key_id: str
    public_key: str
    current: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": self.public_key,
            "current": self.current,
        }


@lru_cache(maxsize=64)
def _derived(secret: bytes) -> Ed25519PrivateKey:
    return token.signing_key(secret)


def signing_key(key_id: str, ring: Keyring | None = None) -> Ed25519PrivateKey:
    """The voucher signing key derived from key `key_id` of the key file."""
    return _derived((ring or keyring()).get(key_id).secret)


def current_key_id() -> str:
    return keyring().current.id


def seeds(key_ids: set[str]) -> dict[str, bytes]:
    """The key file's secrets for `key_ids` (handed to the letter writer's processes)."""
    ring = keyring()
    return {key_id: ring.get(key_id).secret for key_id in key_ids}


_public: dict[int, tuple[Keyring, dict[int, bytes]]] = {}


def public_keys(ring: Keyring | None = None) -> dict[int, bytes]:
    """Key number → raw public key, for `token.verify` (worked out once per key file state:
    `keyring()` hands back the same object while the file is unchanged)."""
    ring = ring or keyring()
    cached = _public.get(id(ring))
    if cached is not None and cached[0] is ring:
        return cached[1]
    found = {
        token.key_number(key.id): token.public_bytes(_derived(key.secret))
        for key in ring.keys.values()
    }
    _public.clear()
    _public[id(ring)] = (ring, found)
    return found


def public_list() -> list[PublicKey]:
    """Every voucher key's public half (what a counter needs to verify offline)."""
    ring = keyring()
    return [
        PublicKey(key.id, token.public_bytes(_derived(key.secret)).hex(), key is ring.current)
        for key in ring.keys.values()
    ]


def verify(raw_token: str) -> token.VoucherClaim:
    """A token checked against this installation's keys (TokenInvalid if it fails)."""
    return token.verify(raw_token, public_keys())

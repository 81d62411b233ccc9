"""A voucher's token: a small binary payload signed with Ed25519, written in base32 so that
a QR code holds it in alphanumeric mode (version 6, 41 × 41 modules, at error correction M).

Payload (18 bytes, big-endian), then the 64-byte signature over it:

    version 1 B · key number 2 B (`k3` → 3) · voucher id 6 B · amount 4 B (rupiah) ·
    expiry 2 B (days since 2020-01-01; valid through that day) · NIK binding 3 B

82 bytes → 132 base32 characters (A–Z, 2–7, no padding). The NIK binding is the first 24 bits
of SHA-256(context ‖ voucher id ‖ NIK): a counter checks the KTP (or, for a representative,
the recipient's NIK on the KK) offline with no secret, a wrong NIK passing once in 16.7
million; the code does not give the NIK away (a guess narrowed to a district and a birth year
still leaves thousands of NIKs per binding). The server checks the full NIK.

The signing key is derived from the installation's key (`audit/keys.py`) under a context of
its own (not the release manifests' key), one per key of the key file: a token names its key
by number, so tokens made before `lumbung keys rotate` still verify after it.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = 1
EPOCH = date(2020, 1, 1)
SIGNING_CONTEXT = b"lumbung pos voucher signing key\x00"
BINDING_CONTEXT = b"lumbung voucher nik\x00"
_PAYLOAD = struct.Struct(">BH6sIH3s")
PAYLOAD_SIZE = _PAYLOAD.size  # 18
SIGNATURE_SIZE = 64
TOKEN_LENGTH = 132
MAX_AMOUNT = 2**32 - 1
MAX_VOUCHER_ID = 2**48 - 1


class TokenInvalid(ValueError):
    """A token that is not one of ours: malformed, unknown key, or a signature that fails."""


@dataclass(frozen=True, slots=True)
class VoucherClaim:
    """What a token says."""

    key_number: int
    voucher_id: int
    amount_idr: int
    expires_on: date
    binding: bytes

    @property
    def key_id(self) -> str:
        return f"k{self.key_number}"

    def payload(self) -> bytes:
        return _PAYLOAD.pack(
            VERSION,
            self.key_number,
            self.voucher_id.to_bytes(6, "big"),
            self.amount_idr,
            (self.expires_on - EPOCH).days,
            self.binding,
        )

    def matches(self, nik: str) -> bool:
        """Whether `nik` is the NIK the voucher is bound to (24 bits: an offline check)."""
        return nik_binding(self.voucher_id, nik) == self.binding

    def expired(self, on: date) -> bool:
        return on > self.expires_on


def key_number(key_id: str) -> int:
    """`k3` → 3 (the key file's ids, `audit/keys.py`)."""
    return int(key_id[1:])


def nik_binding(voucher_id: int, nik: str) -> bytes:
    digest = hashlib.sha256(BINDING_CONTEXT + voucher_id.to_bytes(6, "big") + nik.encode())
    return digest.digest()[:3]


def signing_key(secret: bytes) -> Ed25519PrivateKey:
    """The voucher signing key derived from one key of the key file."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SIGNING_CONTEXT + secret).digest())


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def claim_for(
    *, key_id: str, voucher_id: int, amount_idr: int, expires_on: date, nik: str
) -> VoucherClaim:
    if not 0 < voucher_id <= MAX_VOUCHER_ID:
        raise ValueError(f"voucher id {voucher_id} out of range")
    if not 0 < amount_idr <= MAX_AMOUNT:
        raise ValueError(f"amount {amount_idr} out of a voucher's range")
    if not EPOCH <= expires_on < EPOCH + timedelta(days=65535):
        raise ValueError(f"expiry {expires_on} out of range")
    return VoucherClaim(
        key_number(key_id), voucher_id, amount_idr, expires_on, nik_binding(voucher_id, nik)
    )


def sign(claim: VoucherClaim, key: Ed25519PrivateKey) -> str:
    """The token: base32 of payload ‖ signature, without padding (132 characters)."""
    payload = claim.payload()
    raw = payload + key.sign(payload)
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def decode(token: str) -> tuple[VoucherClaim, bytes, bytes]:
    """The claim, the signed payload and the signature, unchecked (TokenInvalid if malformed)."""
    text = "".join(token.split()).upper()
    if len(text) != TOKEN_LENGTH:
        raise TokenInvalid(f"panjang kode voucher {len(text)} karakter, seharusnya {TOKEN_LENGTH}")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        raise TokenInvalid("kode voucher bukan base32") from None
    payload, signature = raw[:PAYLOAD_SIZE], raw[PAYLOAD_SIZE:]
    version, number, voucher, amount, days, binding = _PAYLOAD.unpack(payload)
    if version != VERSION:
        raise TokenInvalid(f"versi kode voucher {version} tidak dikenal")
    claim = VoucherClaim(
        number, int.from_bytes(voucher, "big"), amount, EPOCH + timedelta(days=days), binding
    )
    return claim, payload, signature


def verify(token: str, public_keys: dict[int, bytes]) -> VoucherClaim:
    """The claim of a token whose signature holds under the public key its key number names
    (`public_keys`: key number → raw 32-byte Ed25519 public key). A counter calls this
    offline, then checks `claim.matches(nik)` and `claim.expired(today)`."""
    claim, payload, signature = decode(token)
    raw_key = public_keys.get(claim.key_number)
    if raw_key is None:
        raise TokenInvalid(f"kunci {claim.key_id} tidak dikenal")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, payload)
    except InvalidSignature:
        raise TokenInvalid("tanda tangan kode voucher tidak sah") from None
    return claim

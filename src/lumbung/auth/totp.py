"""TOTP second factor (RFC 6238, pyotp) and the encryption of its secrets at rest.

A secret is stored as `v1:KEY_ID:BASE64URL(nonce ‖ AES-256-GCM ciphertext)`, under a key
derived with HKDF-SHA256 from the key file's key KEY_ID (`audit/keys.py`), with the user's id
as associated data: someone who can read the database but not the key file learns nothing,
and a secret copied onto another user's row does not decrypt. After `lumbung keys rotate`,
secrets made under an older key still decrypt (its id is stored with them) and are encrypted
again under the current key at their next use.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lumbung.audit.keys import Key, keyring
from lumbung.errors import Conflict

ISSUER = "Lumbung"
STEP_SECONDS = 30
WINDOW = 1  # one step before and after: a phone's clock a little off, a code typed slowly
DIGITS = 6
FORMAT = "v1"
HKDF_INFO = b"lumbung totp secret v1"


def _aead(key: Key) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        key.secret
    )
    return AESGCM(derived)


def _associated(user_id: int) -> bytes:
    return f"user_account:{user_id}:totp_secret".encode()


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def encrypt_secret(secret: str, *, user_id: int) -> str:
    """`secret` encrypted under the current key, for the `totp_secret` column of `user_id`."""
    key = keyring().current
    nonce = secrets.token_bytes(12)
    sealed = _aead(key).encrypt(nonce, secret.encode("ascii"), _associated(user_id))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return f"{FORMAT}:{key.id}:{body}"


def current_key_id() -> str:
    return keyring().current.id


def key_id_of(stored: str) -> str:
    return stored.split(":", 2)[1] if stored.count(":") >= 2 else ""


def decrypt_secret(stored: str, *, user_id: int) -> str:
    """The secret `encrypt_secret` stored for `user_id`; Conflict when it cannot be read."""
    try:
        version, key_id, body = stored.split(":", 2)
        if version != FORMAT:
            raise ValueError(version)
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        key = keyring().get(key_id)
        return _aead(key).decrypt(raw[:12], raw[12:], _associated(user_id)).decode("ascii")
    except (ValueError, InvalidTag, UnicodeError):
        raise Conflict(
            f"Rahasia TOTP pengguna {user_id} tidak bisa dibuka (berkas kunci lain, atau "
            "diubah di database): admin perlu mereset TOTP-nya.",
            command="lumbung users reset-totp NAMA --reason …",
        ) from None


def provisioning_uri(secret: str, *, username: str) -> str:
    """The `otpauth://` URI an authenticator app reads (as a QR code or typed)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step whose code `code` is, within one step of `now` and later than `after`
    (the last step accepted: a code is never accepted twice); None when there is none."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_at(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Every candidate is compared (in constant time), so the time does not tell which.
        if hmac.compare_digest(otp.generate_otp(step), code) and (after is None or step > after):
            found = step if found is None else found
    return found

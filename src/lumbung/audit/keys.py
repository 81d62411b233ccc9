"""The secret keys that make the audit chain, the registry's seals and release manifests
unforgeable by anyone who can write to the database but cannot read this file.

The key file (`LUMBUNG_KEY_FILE`, default `lumbung.key`) holds one key a line, `ID HEX`
(`k1 3f9a…`, 32 random bytes), the last line being the key in use. Rotation appends a key
(`lumbung keys rotate`); older keys stay in the file so that what they sealed can still be
checked. Every event, seal and signature names the key that made it. Losing the file means
nothing sealed can be checked any more: keep a copy where the database's backups are not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lumbung.errors import Conflict, NotFound, ValidationFailed

KEY_LINE = re.compile(r"(k[0-9]{1,6})\s+([0-9a-f]{64})")
SIGNING_CONTEXT = b"lumbung release manifest signing key\x00"


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    secret: bytes

    @property
    def secret_hex(self) -> str:
        return self.secret.hex()

    def mac(self, body: bytes) -> str:
        """HMAC-SHA256 of `body` under this key (hex)."""
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key derived from this secret: manifests are signed with it, and anyone
        holding its public half (`lumbung keys public`) can check them without the secret."""
        seed = hashlib.sha256(SIGNING_CONTEXT + self.secret).digest()
        return Ed25519PrivateKey.from_private_bytes(seed)

    def public_hex(self) -> str:
        raw = self.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return raw.hex()


@dataclass(frozen=True, slots=True)
class Keyring:
    keys: dict[str, Key]
    current: Key
    path: Path

    def get(self, key_id: str) -> Key:
        key = self.keys.get(key_id)
        if key is None:
            raise Conflict(
                f"Kunci {key_id} tidak ada di berkas kunci {self.path}: yang disegel dengan "
                "kunci itu tidak bisa diperiksa (pulihkan berkas kunci dari cadangan)."
            )
        return key


_cache: dict[tuple[str, int, int, int, int], Keyring] = {}


def load(path: Path) -> Keyring:
    """The keys in `path`, checked: a missing, unreadable, shared or malformed file is refused."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NotFound(
            f"Berkas kunci {path} tidak ada (LUMBUNG_KEY_FILE). Instalasi baru: persiapan "
            "database membuatnya; instalasi lama: pulihkan berkas itu dari cadangan.",
            command="lumbung db upgrade (instalasi baru)",
        ) from None
    # The file as it is now (a rotation appends a key; another file is another inode): one
    # stat per use, no resolving of the path (a masked NIK in a list asks for the key each).
    cache_key = (str(path), info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
    if cache_key in _cache:
        return _cache[cache_key]
    if not stat.S_ISREG(info.st_mode):
        raise ValidationFailed(f"Berkas kunci {path} bukan berkas biasa.")
    if info.st_mode & 0o077:
        raise ValidationFailed(
            f"Berkas kunci {path} dapat dibaca pengguna lain (mode {stat.S_IMODE(info.st_mode):o}"
            f"); jalankan `chmod 600 {path}`."
        )
    keys: dict[str, Key] = {}
    order: list[str] = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = KEY_LINE.fullmatch(line)
        if not found:
            raise ValidationFailed(
                f"Berkas kunci {path} baris {number}: bukan `kN HEX` (64 digit heksadesimal)."
            )
        key_id, secret = found.group(1), bytes.fromhex(found.group(2))
        if key_id in keys:
            raise ValidationFailed(f"Berkas kunci {path} baris {number}: {key_id} dua kali.")
        keys[key_id] = Key(key_id, secret)
        order.append(key_id)
    if not keys:
        raise ValidationFailed(f"Berkas kunci {path} tidak berisi kunci.")
    ring = Keyring(keys, keys[order[-1]], path)
    _cache.clear()
    _cache[cache_key] = ring
    return ring


def _line(key: Key) -> str:
    return f"{key.id} {key.secret_hex}\n"


def create(path: Path) -> Key:
    """A new key file with one key; refused if the file exists (it may hold the only copy)."""
    key = Key("k1", secrets.token_bytes(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"Berkas kunci {path} sudah ada; tidak ditimpa.") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("# Lumbung: kunci segel. Simpan cadangan di luar server database.\n")
        handle.write(_line(key))
    return key


def rotate(path: Path) -> Key:
    """Append a new key and make it the current one; the older keys stay to check the past."""
    ring = load(path)
    number = max(int(key_id[1:]) for key_id in ring.keys) + 1
    key = Key(f"k{number}", secrets.token_bytes(32))
    with path.open("a", encoding="ascii") as handle:
        handle.write(_line(key))
    return key


def keyring() -> Keyring:
    """The keys of this installation (`LUMBUNG_KEY_FILE`)."""
    from lumbung.config import get_settings

    return load(get_settings().key_file)

"""Passwords: argon2id hashes (argon2-cffi) and the policy a new password must meet.

The cost of the hash comes from the settings (`LUMBUNG_ARGON2_*`); a hash made with other
costs still verifies, and `needs_rehash` says it should be made again (at the next sign-in,
when the password is at hand).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lumbung.config import get_settings
from lumbung.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is only a way to load us


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        type=Type.ID,
    )


def hasher() -> PasswordHasher:
    """The argon2id hasher with the costs of the current settings."""
    settings = get_settings()
    return _hasher_for(
        settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
    )


def hash_password(password: str) -> str:
    """The argon2id hash of `password` in PHC form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`)."""
    return hasher().hash(password)


def verify_password(hash: str, password: str) -> bool:
    """Whether `password` is the one `hash` was made from; False for a malformed hash too."""
    try:
        return hasher().verify(hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:
    """Whether `hash` was made with other costs than the settings' (then hash again)."""
    try:
        return hasher().check_needs_rehash(hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=4)
def _dummy_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher_for(time_cost, memory_cost, parallelism).hash("lumbung: no such user")


def dummy_hash() -> str:
    """A hash to verify against when the user is unknown or has no password, so that the
    answer takes as long as for a known user (the time does not tell whether a user exists)."""
    settings = get_settings()
    return _dummy_for(
        settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
    )


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with `password` as a new password for `username` (empty: acceptable),
    in Indonesian: at least 10 characters, not the username, not one kind of character only."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Kata sandi minimal {MIN_LENGTH} karakter (kini {len(password)}).")
    if len(password) > MAX_LENGTH:
        problems.append(f"Kata sandi maksimal {MAX_LENGTH} karakter.")
    name = username.strip().lower()
    if name and name in password.lower():
        problems.append("Kata sandi tidak boleh memuat nama pengguna.")
    kinds = {
        "lower": any(c.islower() for c in password),
        "upper": any(c.isupper() for c in password),
        "digit": any(c.isdigit() for c in password),
        "other": any(not c.isalnum() for c in password),
    }
    if password and sum(kinds.values()) < 2:
        problems.append(
            "Kata sandi harus memuat paling sedikit dua jenis karakter (huruf kecil, huruf "
            "besar, angka, tanda baca atau spasi), bukan satu jenis saja."
        )
    return problems


def refuse_weak(password: str, username: str, extra: list[str] | None = None) -> None:
    """Raise `ValidationFailed` listing what is wrong with `password` as a new password for
    `username` (`extra`: problems the caller found first), if anything is."""
    problems = (extra or []) + password_problems(password, username)
    if problems:
        raise ValidationFailed(
            " ".join(problems),
            details=[{"code": "weak_password", "message": p} for p in problems],
        )

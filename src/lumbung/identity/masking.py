"""Masking of names and identity numbers for readers not entitled to see them."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any


def mask_name(name: str) -> str:
    """Each word as its first and last letter around four stars: "SUTRISNO" → "S****O".

    Four stars whatever the length, so the mask does not give the length away.
    """
    words = []
    for word in name.split():
        if len(word) <= 2:
            words.append(word[0] + "*" * (len(word) - 1))
        else:
            words.append(f"{word[0]}****{word[-1]}")
    return " ".join(words)


def mask_id(number: str, *, distinct: bool = False) -> str:
    """A NIK or KK with all but its first four digits (province and regency) hidden:
    "3171************".

    Not more: a NIK is the district (6 digits), the birth date (6; the day plus 40 for a
    woman) and a serial (4). A page that shows a masked NIK beside the person's birth date, sex
    and village would give away the middle digits, and the last four are the serial: shown,
    they completed the number (found by a newcomer's pass, session 11). A KK is built the same
    way (district, date, serial).

    `distinct`: with a tag that tells apart numbers masked alike ("3171************·K7Q"):
    members of one family share the first four digits, and a list of them would read as one
    person. The tag is keyed (the installation's key, audit/keys.py), so it gives away nothing
    of the hidden digits: without the key, the numbers a mask stands for cannot be narrowed
    by their tags."""
    digits = number.strip()
    if len(digits) != 16:
        return "*" * len(digits)
    masked = digits[:4] + "*" * 12
    if not distinct:
        return masked
    from lumbung.audit.keys import keyring

    return f"{masked}·{_tag(keyring().current.secret, digits)}"


def distinct_id_masker() -> Callable[[str], str]:
    """`mask_id(number, distinct=True)` with the installation's key read once: for a list that
    masks many numbers (a name search), each otherwise looking the key file up again."""
    from lumbung.audit.keys import keyring

    secret = keyring().current.secret

    def mask(number: str) -> str:
        digits = number.strip()
        if len(digits) != 16:
            return "*" * len(digits)
        return f"{digits[:4]}{'*' * 12}·{_tag(secret, digits)}"

    return mask


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648, as `base64.b32encode` writes


def _tag(secret: bytes, digits: str) -> str:
    """The first three base32 characters of HMAC-SHA256(secret, "mask␟" + digits): its first 15
    bits, five at a time (what `base64.b32encode(mac)[:3]` gives, without encoding the rest)."""
    bits = int.from_bytes(hmac.digest(secret, b"mask\x1f" + digits.encode(), "sha256")[:2]) >> 1
    return _BASE32[bits >> 10] + _BASE32[(bits >> 5) & 31] + _BASE32[bits & 31]


# The keys under which a payload, an audit diff or a row holds a person's NIK or name (the
# exchange format's member columns; `new_head` names the new head by NIK).
ID_KEYS = frozenset({"nik", "new_head"})
NAME_KEYS = frozenset({"name", "mother_name", "head_name"})
# A bank account's and a KKS card's numbers (an account change request's payload).
ACCOUNT_KEYS = frozenset({"account_number", "card_number"})


def mask_account(number: str) -> str:
    """An account or card number with all but its last four digits hidden."""
    return "*" * max(len(number) - 4, 0) + number[-4:]


def mask_identity(value: Any) -> Any:
    """`value` (a payload, an audit diff, a row: dicts and lists of any depth) with every NIK,
    name and account number in it masked, found by its key (`ID_KEYS`, `NAME_KEYS`,
    `ACCOUNT_KEYS`); a (before, after) pair
    under such a key is masked on both sides. NIKs carry the distinguishing tag, so that the
    same person reads alike across a diff and its family. Everything else as it was."""
    if isinstance(value, dict):
        return {key: _masked_under(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_identity(item) for item in value)
    return value


def mask_accounts(value: Any) -> Any:
    """`value` with every account and card number in it masked (`ACCOUNT_KEYS`), for every
    reader: a page or a history tells accounts apart, nobody needs to copy one from it."""
    if isinstance(value, dict):
        return {
            key: _each(item, mask_account) if key in ACCOUNT_KEYS else mask_accounts(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(mask_accounts(item) for item in value)
    return value


def _masked_under(key: Any, value: Any) -> Any:
    if key in ID_KEYS:
        return _each(value, lambda number: mask_id(number, distinct=True))
    if key in NAME_KEYS:
        return _each(value, mask_name)
    if key in ACCOUNT_KEYS:
        return _each(value, mask_account)
    return mask_identity(value)


def _each(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value) if value else value
    if isinstance(value, list | tuple):
        return type(value)(_each(item, mask) for item in value)
    return mask_identity(value)

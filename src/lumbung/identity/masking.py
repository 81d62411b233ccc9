"""Masking of names and identity numbers for readers not entitled to see them."""

from __future__ import annotations

import base64


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
    """A NIK or KK with its middle eight digits hidden: "3171********0001".

    `distinct`: with a tag that tells apart numbers masked alike ("3171********0001·K7Q"):
    members of one family often share the first and last four digits (the same district, the
    serial 0001), and a list of them would read as one person. The tag is keyed (the
    installation's key, audit/keys.py), so it gives away nothing of the hidden digits: without
    the key, the 10^8 numbers a mask stands for cannot be narrowed by their tags."""
    digits = number.strip()
    if len(digits) != 16:
        return "*" * len(digits)
    masked = f"{digits[:4]}********{digits[12:]}"
    if not distinct:
        return masked
    from lumbung.audit.keys import keyring

    mac = bytes.fromhex(keyring().current.mac(b"mask\x1f" + digits.encode()))
    return f"{masked}·{base64.b32encode(mac).decode()[:3]}"

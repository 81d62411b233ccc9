"""Masking of names and identity numbers for readers not entitled to see them."""

from __future__ import annotations


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


def mask_id(number: str) -> str:
    """A NIK or KK with its middle eight digits hidden: "3171********0001"."""
    digits = number.strip()
    if len(digits) != 16:
        return "*" * len(digits)
    return f"{digits[:4]}********{digits[12:]}"

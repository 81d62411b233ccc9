"""Numbers as operators read them: Indonesian digit grouping, as the rupiah amounts are written."""

from __future__ import annotations

from lokal.rupiah import format_rupiah


def grouped(count: int) -> str:
    """`1234567` → `1.234.567` (the grouping of `Rp1.234.567`, without the currency)."""
    return format_rupiah(count, symbol=False)

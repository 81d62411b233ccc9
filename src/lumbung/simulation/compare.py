"""Two to four stored simulations side by side: what the web page, the API and the side-by-side
workbook show (issue 18, item 4).

Per program (every program of any of the simulations, in the order first met): for each
simulation its beneficiaries and yearly budget in the scenario and in its baseline and the
differences; then by province and by desil, each simulation's scenario and baseline yearly
budget and the difference. A simulation without the program has `None` in its place. Rupiah
are integers (a year, exactly; simulation/results.py). Who may read: `compare_simulations`
(simulation/access.py: national determiners, admins and auditors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.errors import ValidationFailed
from lumbung.reports.province_map import png
from lumbung.simulation.service import LABEL_WORDS, compare_simulations
from lumbung.spreadsheets import workbook_bytes

FEWEST = 2
MOST = 4
LEVELS = ("province", "decile")


def checked_labels(labels: Sequence[str]) -> list[str]:
    """The labels, each once, in the order given; two to four of them."""
    unique = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    if not FEWEST <= len(unique) <= MOST:
        raise ValidationFailed(
            f"Pilih {FEWEST} sampai {MOST} simulasi yang berbeda untuk dibandingkan "
            f"berdampingan ({len(unique)} dipilih)."
        )
    return unique


def side_by_side(session: Session, *, actor: User, labels: Sequence[str]) -> dict[str, Any]:
    """The comparison (module docstring) of the simulations `labels` (2–4)."""
    found = compare_simulations(session, actor=actor, labels=checked_labels(labels))
    names: dict[str, str] = {}
    for simulation in found:
        names |= simulation.get("region_names", {})
    codes: list[str] = []
    for simulation in found:
        codes += [c for c in simulation["programs"] if c not in codes]
    return {
        "kind": "simulation_comparison",
        "notice": LABEL_WORDS,
        "simulations": [
            {
                k: s[k]
                for k in (
                    "label",
                    "title",
                    "release",
                    "model",
                    "reference_date",
                    "created_by",
                    "total_year_idr",
                    "baseline_year_idr",
                    "difference_year_idr",
                )
            }
            for s in found
        ],
        "programs": [_program(code, found) for code in codes],
        "region_names": names,
    }


def _program(code: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    results = [s["programs"].get(code) for s in found]
    name = next(r["name"] for r in results if r is not None)
    totals: list[dict[str, int] | None] = []
    for r in results:
        if r is None:
            totals.append(None)
            continue
        sc, bl = r["scenario"], r["baseline"]
        totals.append(
            {
                "scenario_beneficiaries": sc["beneficiaries"],
                "baseline_beneficiaries": bl["beneficiaries"],
                "difference_beneficiaries": sc["beneficiaries"] - bl["beneficiaries"],
                "scenario_year_idr": sc["per_year_idr"],
                "baseline_year_idr": bl["per_year_idr"],
                "difference_year_idr": sc["per_year_idr"] - bl["per_year_idr"],
            }
        )
    by: dict[str, list[dict[str, Any]]] = {}
    for level in LEVELS:
        keys: list[Any] = sorted(
            {g["key"] for r in results if r is not None for g in r["by"][level]},
            key=lambda k: (k is None, k),
        )
        lookup = [{g["key"]: g for g in r["by"][level]} if r is not None else None for r in results]
        by[level] = [
            {
                "key": key,
                "values": [
                    None
                    if groups is None
                    else _group(groups.get(key))  # a simulation without the region: zeros
                    for groups in lookup
                ],
            }
            for key in keys
        ]
    return {"code": code, "name": name, "totals": totals, "by": by}


def _group(g: dict[str, Any] | None) -> dict[str, int]:
    fields = (
        "scenario_beneficiaries",
        "baseline_beneficiaries",
        "difference_beneficiaries",
        "scenario_year_idr",
        "baseline_year_idr",
        "difference_year_idr",
    )
    return {f: int(g[f]) if g is not None else 0 for f in fields}


def differences_by_province(result: dict[str, Any]) -> dict[str, int]:
    """Province code → the yearly difference, of one program of one simulation as
    `show_simulation` gives it (for its map)."""
    return {
        str(g["key"]): int(g["difference_year_idr"]) for g in result["by"]["province"] if g["key"]
    }


def province_differences(program: dict[str, Any], column: int) -> dict[str, int]:
    """Province code → the yearly difference of simulation number `column` (for the map)."""
    out = {}
    for row in program["by"]["province"]:
        value = row["values"][column]
        if row["key"] is not None and value is not None:
            out[str(row["key"])] = int(value["difference_year_idr"])
    return out


def pooled(program: dict[str, Any]) -> list[int]:
    """Every simulation's yearly difference by province: one colour scale for all their
    maps."""
    return [
        int(v["difference_year_idr"])
        for row in program["by"]["province"]
        if row["key"] is not None
        for v in row["values"]
        if v is not None
    ]


def region_words(names: dict[str, str], key: Any, level: str) -> str:
    if level == "decile":
        return f"desil {key}" if key is not None else "tanpa desil"
    if key is None:
        return "tanpa wilayah"
    name = names.get(str(key))
    return f"{name} ({key})" if name else str(key)


def workbook(comparison: dict[str, Any]) -> bytes:
    """The comparison as XLSX: `Ringkasan` (per program, each simulation's scenario, baseline
        and difference), `Provinsi` and `Desil` (the same per province and desil, a column group
        per simulation), `Simulasi` (what each one is), and `Peta 1`, `Peta 2`, … (the difference by
    province on a map, one per program and simulation, its title naming both); text cells never
    run as formulas."""
    sims = comparison["simulations"]
    notice = f"Perbandingan simulasi — {comparison['notice']}"
    summary: list[list[Any]] = [
        [notice],
        [],
        [
            "program",
            "simulasi",
            "penerima skenario",
            "penerima pembanding",
            "selisih penerima",
            "anggaran setahun skenario (Rp)",
            "anggaran setahun pembanding (Rp)",
            "selisih setahun (Rp)",
        ],
    ]
    for p in comparison["programs"]:
        for s, t in zip(sims, p["totals"], strict=True):
            if t is None:
                summary.append([p["code"], s["label"], "tidak ada di simulasi ini"])
                continue
            summary.append(
                [
                    p["code"],
                    s["label"],
                    t["scenario_beneficiaries"],
                    t["baseline_beneficiaries"],
                    t["difference_beneficiaries"],
                    t["scenario_year_idr"],
                    t["baseline_year_idr"],
                    t["difference_year_idr"],
                ]
            )
    sheets: dict[str, list[list[Any]]] = {"Ringkasan": summary}
    names = comparison["region_names"]
    for level, title, word in (("province", "Provinsi", "provinsi"), ("decile", "Desil", "desil")):
        head: list[Any] = ["program", "kode", word]
        for s in sims:
            head += [
                f"{s['label']}: setahun skenario (Rp)",
                f"{s['label']}: setahun pembanding (Rp)",
                f"{s['label']}: selisih setahun (Rp)",
                f"{s['label']}: selisih penerima",
            ]
        lines: list[list[Any]] = [[notice], [], head]
        for p in comparison["programs"]:
            for row in p["by"][level]:
                line: list[Any] = [
                    p["code"],
                    "" if row["key"] is None else str(row["key"]),
                    region_words(names, row["key"], level),
                ]
                for v in row["values"]:
                    line += (
                        ["", "", "", ""]
                        if v is None
                        else [
                            v["scenario_year_idr"],
                            v["baseline_year_idr"],
                            v["difference_year_idr"],
                            v["difference_beneficiaries"],
                        ]
                    )
                lines.append(line)
        sheets[title] = lines
    sheets["Simulasi"] = [
        [notice],
        [],
        ["simulasi", "judul", "rilis", "model PMT", "tanggal acuan", "oleh"],
        *[
            [s["label"], s["title"], s["release"], s["model"], s["reference_date"], s["created_by"]]
            for s in sims
        ],
    ]
    drawn = [
        png(
            province_differences(p, i),
            title=f"{p['code']} {s['label']}: selisih anggaran setahun per provinsi (SIMULASI)",
            pool=pooled(p),
        )
        for p in comparison["programs"]
        for i, s in enumerate(sims)
        if p["totals"][i] is not None
    ]
    maps = {f"Peta {n}": picture for n, picture in enumerate(drawn, start=1)}
    return workbook_bytes(sheets, images=maps)

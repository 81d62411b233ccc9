"""Charts of a realisation report as PNG or SVG files, drawn with matplotlib (Agg).

Two charts: realisation by region (one cycle: each region's paid share of what it was
entitled to, with the amounts) and over cycles (entitled against paid per cycle, with the
share). Words are Indonesian, amounts short (`Rp1,2 M`). matplotlib is imported only here
and only when a chart is asked for; the figures are made without pyplot (no global state,
safe in the server's threads). Fonts come with matplotlib (DejaVu Sans), so a PNG looks the
same on a server with no fonts installed; the SVG keeps its text as text (searchable,
readable by a screen reader). The web pages draw their inline charts themselves
(`web/charts.py`): the site's Content-Security-Policy forbids the inline styles that
matplotlib's SVG carries."""

from __future__ import annotations

import io
from typing import Any

from lumbung.errors import ValidationFailed
from lumbung.reports.labels import (
    LEVEL_WORDS,
    percent_text,
    region_label,
    short_rupiah,
)
from lumbung.reports.realisation import CycleRealisation, Realisation, RealisationReport

FORMATS = ("png", "svg")
KINDS = ("region", "trend")
MAX_BARS = 40  # every province (38) fits; regencies and below: the 40 largest
PAID = "#00703c"
ENTITLED = "#c9d3cc"
INK = "#1b1b1b"


def chart(report: RealisationReport, *, fmt: str, kind: str | None = None) -> bytes:
    """The report's chart as `fmt` (png or svg): `region` (the last cycle by region) or
    `trend` (every cycle); by default the trend when there are several cycles."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"Format grafik {fmt!r}: pilihan {', '.join(FORMATS)}.")
    kind = kind or ("trend" if len(report.cycles) > 1 else "region")
    if kind not in KINDS:
        raise ValidationFailed(f"Jenis grafik {kind!r}: pilihan {', '.join(KINDS)}.")
    import matplotlib

    with matplotlib.rc_context(
        {
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "svg.fonttype": "none",
            "svg.hashsalt": "lumbung",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        figure = _trend(report) if kind == "trend" else _regions(report, report.cycles[-1])
        buffer = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _name(row: Realisation) -> str:
    """The region's name cut to 30 characters, its code always whole."""
    name = row.name if row.name is None or len(row.name) <= 30 else row.name[:29] + "…"
    return region_label(row.code, name)


def _regions(report: RealisationReport, cycle: CycleRealisation) -> Any:
    """Horizontal bars: each region's realisation in percent, largest entitlement first, with
    `paid of entitled` beside the bar."""
    shown = sorted(cycle.rows, key=lambda r: (-r.entitled_idr, r.code))[:MAX_BARS]
    figure = _figure(10, 1.6 + 0.36 * max(1, len(shown)))
    axes = figure.add_subplot()
    level = LEVEL_WORDS.get(report.level, report.level)
    heading = (
        f"Realisasi {report.program} siklus {cycle.cycle} per {level}\n"
        f"{region_label(report.area or '', report.area_name)}: "
        f"{percent_text(cycle.total.share())} "
        f"({short_rupiah(cycle.total.paid_idr)} dari {short_rupiah(cycle.total.entitled_idr)})"
    )
    axes.set_title(heading, loc="left", fontsize=11, color=INK)
    if not shown:
        axes.text(0.5, 0.5, "Tidak ada data", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    names = [_name(r) for r in reversed(shown)]
    shares = [float(r.share() or 0) for r in reversed(shown)]
    positions = list(range(len(shown)))
    axes.barh(positions, [100.0] * len(shown), color=ENTITLED, height=0.7, label="Hak")
    axes.barh(positions, shares, color=PAID, height=0.7, label="Dibayar")
    for y, row in zip(positions, reversed(shown), strict=True):
        axes.text(
            101.5,
            y,
            f"{percent_text(row.share())} · {short_rupiah(row.paid_idr)} dari "
            f"{short_rupiah(row.entitled_idr)}",
            va="center",
            fontsize=9,
            color=INK,
        )
    axes.set_yticks(positions, names)
    axes.set_xlim(0, 150)
    axes.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    axes.set_xlabel("Realisasi (dibayar dari hak, %)")
    # Below the axis, at the right: above it, a long title ran into it.
    axes.legend(loc="upper right", bbox_to_anchor=(1.0, -0.035), ncols=2, frameon=False, fontsize=9)
    if len(cycle.rows) > len(shown):
        figure.text(
            0.01,
            0.005,
            f"{len(shown)} dari {len(cycle.rows)} wilayah dengan hak terbesar",
            fontsize=8,
            color="#555555",
        )
    return figure


def _trend(report: RealisationReport) -> Any:
    """Paired columns per cycle: entitled and paid, the share above."""
    from matplotlib.ticker import FuncFormatter

    cycles = report.cycles
    figure = _figure(max(7.0, 1.2 + 0.9 * len(cycles)), 5.2)
    axes = figure.add_subplot()
    axes.set_title(
        f"Realisasi {report.program} per siklus — "
        f"{region_label(report.area or '', report.area_name)}",
        loc="left",
        fontsize=11,
        color=INK,
    )
    xs = list(range(len(cycles)))
    entitled = [c.total.entitled_idr for c in cycles]
    paid = [c.total.paid_idr for c in cycles]
    axes.bar([x - 0.2 for x in xs], entitled, width=0.4, color=ENTITLED, label="Hak")
    axes.bar([x + 0.2 for x in xs], paid, width=0.4, color=PAID, label="Dibayar")
    top = max(entitled, default=0) or 1
    for x, cycle in zip(xs, cycles, strict=True):
        axes.text(
            x,
            max(cycle.total.entitled_idr, cycle.total.paid_idr) + top * 0.02,
            percent_text(cycle.total.share()),
            ha="center",
            fontsize=9,
            color=INK,
        )
    axes.set_ylim(0, top * 1.15)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: short_rupiah(int(value))))
    slanted = {"rotation": 30, "ha": "right"} if len(cycles) > 4 else {}
    axes.set_xticks(xs, [c.cycle for c in cycles], **slanted)
    axes.set_ylabel("Rupiah")
    axes.set_xlabel("Siklus")
    axes.legend(loc="upper left", frameon=False, fontsize=9)
    return figure

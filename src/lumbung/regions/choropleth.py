"""A map of Indonesia's 38 provinces coloured by a value per province (a choropleth), as SVG
for the web pages and as PNG for downloads.

The shapes are `regions/data/provinces.json`: Natural Earth 1:10m admin-1 (public domain),
simplified to about 35 KB by `tools/build_province_map.py` and keyed by the Kemendagri
province code. Natural Earth still draws the provinces before 2012/2022, so Kalimantan Utara
(65) and the new Papua provinces (93–96) are cut from their old provinces along approximate
lines (each shape says so: `approximate`), and the map says so in its legend.

Colours: a diverging scale symmetric around zero, three classes each way (gains green,
losses red, equal width up to the largest absolute value), zero grey, and a province with no
value (no beneficiary on either side) white. The SVG carries no style attribute (the site's
Content-Security-Policy forbids inline styles): fills and strokes are attributes; each shape
has a `<title>` with the province, its code and its value, which browsers show on hover and
screen readers read.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lumbung.numbers import grouped
from lumbung.reports.labels import short_rupiah

NO_VALUE = "#ffffff"
ZERO = "#e3e3e3"
GAINS = ("#c7e9c0", "#74c476", "#00703c")  # small … large
LOSSES = ("#fcbba1", "#fb6a4a", "#a50f15")
STROKE = "#6b6b6b"
LEGEND_HEIGHT = 96
APPROXIMATE_WORDS = "batas perkiraan (provinsi baru; peta dasar sebelum pemekaran)"


@dataclass(frozen=True, slots=True)
class Shape:
    code: str
    name: str
    approximate: bool
    rings: tuple[tuple[int, ...], ...]  # flat x0, y0, x1, y1, … on the map's canvas


@dataclass(frozen=True, slots=True)
class ProvinceMap:
    width: int
    height: int
    source: str
    shapes: tuple[Shape, ...]


@dataclass(frozen=True, slots=True)
class Band:
    """One colour of the legend and the words under it."""

    colour: str
    words: str


@lru_cache(maxsize=1)
def province_map() -> ProvinceMap:
    """The shipped province shapes (module docstring)."""
    raw = json.loads(files("lumbung.regions").joinpath("data/provinces.json").read_text("utf-8"))
    shapes = tuple(
        Shape(code, p["name"], bool(p["approximate"]), tuple(tuple(r) for r in p["rings"]))
        for code, p in raw["provinces"].items()
    )
    return ProvinceMap(int(raw["width"]), int(raw["height"]), str(raw["source"]), shapes)


def signed(amount: int) -> str:
    """`+Rp1,2 M`, `-Rp350 jt`, `Rp0`."""
    return ("+" if amount > 0 else "") + short_rupiah(amount)


def cuts(values: Mapping[str, int], top: int | None = None) -> tuple[int, int, int]:
    """The class edges: a third, two thirds and all of the largest absolute value (or of
    `top`, to draw several maps on one scale; rounded up, integers only)."""
    top = max((abs(v) for v in values.values()), default=0) if top is None else abs(top)
    return (-(-top // 3), -(-top * 2 // 3), top)


def bands(values: Mapping[str, int], top: int | None = None) -> list[Band]:
    """The legend for `values`: losses (largest first), zero, gains, and no value; a side
    that no value reaches is left out."""
    edges = (0, *cuts(values, top))
    found: list[Band] = []
    if any(v < 0 for v in values.values()):
        for i in (2, 1, 0):
            found.append(Band(LOSSES[i], f"{signed(-edges[i + 1])} … {signed(-edges[i])}"))
    found.append(Band(ZERO, "0"))
    if any(v > 0 for v in values.values()):
        for i in (0, 1, 2):
            found.append(Band(GAINS[i], f"{signed(edges[i])} … {signed(edges[i + 1])}"))
    found.append(Band(NO_VALUE, "tanpa penerima"))
    return found


def colour_of(value: int | None, edges: tuple[int, int, int]) -> str:
    """The fill of a province with `value` (None: no value) on a map whose classes are
    `edges` (`cuts`)."""
    if value is None:
        return NO_VALUE
    if value == 0:
        return ZERO
    size = abs(value)
    step = 0 if size <= edges[0] else 1 if size <= edges[1] else 2
    return (GAINS if value > 0 else LOSSES)[step]


def _path(rings: tuple[tuple[int, ...], ...]) -> str:
    out = []
    for ring in rings:
        points = [f"{ring[i]} {ring[i + 1]}" for i in range(0, len(ring), 2)]
        out.append("M" + "L".join(points) + "Z")
    return "".join(out)


def svg(
    values: Mapping[str, int],
    *,
    title: str,
    amount: Callable[[int], str] | None = None,
    top: int | None = None,
) -> str:
    """The map as an SVG document (a string whose every piece of text is escaped): a shape per
    province, its `<title>` "Name (code): value", and the legend under the map."""
    shown = amount or (lambda v: ("+" if v > 0 else "-" if v < 0 else "") + "Rp" + grouped(abs(v)))
    drawn = province_map()
    legend = bands(values, top)
    edges = cuts(values, top)
    height = drawn.height + LEGEND_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {drawn.width} {height}" '
        f'width="{drawn.width}" height="{height}" role="img" aria-label={quoteattr(title)} '
        'class="map">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{drawn.width}" height="{drawn.height}" fill="#f4f8fb"/>',
    ]
    for shape in drawn.shapes:
        value = values.get(shape.code)
        words = f"{shape.name} ({shape.code}): " + (
            "tanpa penerima" if value is None else shown(value)
        )
        if shape.approximate:
            words += f" — {APPROXIMATE_WORDS}"
        dashed = ' stroke-dasharray="3 2"' if shape.approximate else ""
        parts.append(
            f'<path data-code="{shape.code}" d="{_path(shape.rings)}" '
            f'fill="{colour_of(value, edges)}" stroke="{STROKE}" stroke-width="0.6"'
            f"{dashed}><title>{escape(words)}</title></path>"
        )
    parts.append(f'<g class="legend" transform="translate(10 {drawn.height + 8})">')
    columns = 4
    for i, band in enumerate(legend):
        x, y = (i % columns) * 245, (i // columns) * 28
        parts.append(
            f'<rect x="{x}" y="{y}" width="22" height="18" fill="{band.colour}" '
            f'stroke="{STROKE}" stroke-width="0.8"/>'
            f'<text x="{x + 28}" y="{y + 14}" font-size="15">{escape(band.words)}</text>'
        )
    rows = -(-len(legend) // columns)
    parts.append(
        f'<text x="0" y="{rows * 28 + 12}" font-size="14">'
        f"Garis putus-putus: {escape(APPROXIMATE_WORDS)}. Sumber peta: Natural Earth.</text>"
    )
    parts.append("</g></svg>")
    return "".join(parts)


def png(values: Mapping[str, int], *, title: str, top: int | None = None) -> bytes:
    """The same map as a PNG (matplotlib, Agg, no pyplot: safe in the server's threads)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Polygon

    drawn = province_map()
    legend = bands(values, top)
    edges = cuts(values, top)
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 9}):
        figure = Figure(figsize=(11, 5.6), layout="constrained")
        axes = figure.add_subplot()
        for shape in drawn.shapes:
            colour = colour_of(values.get(shape.code), edges)
            for ring in shape.rings:
                points = list(zip(ring[0::2], ring[1::2], strict=True))
                axes.add_patch(
                    Polygon(
                        points,
                        closed=True,
                        facecolor=colour,
                        edgecolor=STROKE,
                        linewidth=0.4,
                        linestyle="--" if shape.approximate else "-",
                    )
                )
        axes.set_xlim(0, drawn.width)
        axes.set_ylim(drawn.height, 0)
        axes.set_aspect("equal")
        axes.set_axis_off()
        axes.set_title(title, loc="left")
        handles: list[Any] = [
            Patch(facecolor=b.colour, edgecolor=STROKE, label=b.words) for b in legend
        ]
        axes.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncols=4,
            frameon=False,
            title=f"Garis putus-putus: {APPROXIMATE_WORDS}. Sumber peta: Natural Earth.",
            title_fontsize=8,
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()

"""A map of Indonesia's 38 provinces coloured by a value per province (a choropleth), as SVG
for the web pages and as PNG for downloads.

The shapes are `regions/data/provinces.json`: Natural Earth 1:10m admin-1 (public domain),
simplified to about 35 KB by `tools/build_province_map.py` and keyed by the Kemendagri
province code. Natural Earth still draws the provinces before 2012/2022, so Kalimantan Utara
(65) and the new Papua provinces (93–96) are cut from their old provinces along approximate
lines (each shape says so: `approximate`), and the map says so in its legend.

Colours: gains green and losses red, each in three classes by rank (terciles: `scale`; maps
compared side by side share one scale), zero grey, and a province with no value (no
beneficiary on either side) white. The SVG carries no style attribute (the site's
Content-Security-Policy forbids inline styles): fills and strokes are attributes; each shape
has a `<title>` with the province, its code and its value, which browsers show on hover and
screen readers read.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
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
LEGEND_COLUMNS = 2  # large enough to read on a phone, where the map is 360 px wide
LEGEND_ROW = 36
NOTE_LINES = (
    "Garis putus-putus: batas perkiraan (provinsi baru;",
    "peta dasar sebelum pemekaran). Sumber peta: Natural Earth.",
)
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


@dataclass(frozen=True, slots=True)
class Scale:
    """The upper edge of each class, smallest first: of the gains and of the losses (sizes,
    positive). A value of size at most `edges[0]` is in the palest class, and so on."""

    gains: tuple[int, ...]
    losses: tuple[int, ...]


def _thirds(sizes: list[int]) -> tuple[int, ...]:
    """Class edges that put about a third of `sizes` in each class (fewer classes when there
    are fewer distinct sizes): the sizes at the third and two thirds of the ranking, and the
    largest."""
    if not sizes:
        return ()
    ranked = sorted(sizes)
    n = len(ranked)
    return tuple(sorted({ranked[(n - 1) // 3], ranked[2 * (n - 1) // 3], ranked[-1]}))


def scale(values: Iterable[int]) -> Scale:
    """Classes by rank (terciles), gains and losses apart: a registry's money follows its
    people, and equal-width classes would paint Java dark and every other province pale."""
    pooled = list(values)
    return Scale(_thirds([v for v in pooled if v > 0]), _thirds([-v for v in pooled if v < 0]))


def _colours(count: int, ramp: tuple[str, str, str]) -> tuple[str, ...]:
    return {0: (), 1: ramp[2:], 2: (ramp[0], ramp[2]), 3: ramp}[count]


def bands(drawn: Scale) -> list[Band]:
    """The legend: losses (largest first), zero, gains, and no value; a side without a value
    is left out."""
    found: list[Band] = []
    losses = _colours(len(drawn.losses), LOSSES)
    for i in reversed(range(len(drawn.losses))):
        low = drawn.losses[i - 1] if i else 0
        found.append(Band(losses[i], f"{signed(-drawn.losses[i])} … {signed(-low)}"))
    found.append(Band(ZERO, "0"))
    gains = _colours(len(drawn.gains), GAINS)
    for i in range(len(drawn.gains)):
        low = drawn.gains[i - 1] if i else 0
        found.append(Band(gains[i], f"{signed(low)} … {signed(drawn.gains[i])}"))
    found.append(Band(NO_VALUE, "tanpa penerima"))
    return found


def colour_of(value: int | None, drawn: Scale) -> str:
    """The fill of a province with `value` (None: no value) on the map `drawn`."""
    if value is None:
        return NO_VALUE
    if value == 0:
        return ZERO
    edges, ramp = (drawn.gains, GAINS) if value > 0 else (drawn.losses, LOSSES)
    colours = _colours(len(edges), ramp)
    size = abs(value)
    for edge, colour in zip(edges, colours, strict=True):
        if size <= edge:
            return colour
    return ramp[2]  # beyond the scale (a map drawn on another's): the strongest


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
    pool: Iterable[int] | None = None,
) -> str:
    """The map as an SVG document (a string whose every piece of text is escaped): a shape per
    province, its `<title>` "Name (code): value", and the legend under the map."""
    shown = amount or (lambda v: ("+" if v > 0 else "-" if v < 0 else "") + "Rp" + grouped(abs(v)))
    drawn = province_map()
    drawn_scale = scale(values.values() if pool is None else pool)
    legend = bands(drawn_scale)
    rows = -(-len(legend) // LEGEND_COLUMNS)
    height = drawn.height + 14 + rows * LEGEND_ROW + 24 * len(NOTE_LINES) + 14
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
            f'fill="{colour_of(value, drawn_scale)}" stroke="{STROKE}" stroke-width="0.6"'
            f"{dashed}><title>{escape(words)}</title></path>"
        )
    parts.append(f'<g class="legend" transform="translate(12 {drawn.height + 14})">')
    for i, band in enumerate(legend):
        x, y = (i % LEGEND_COLUMNS) * 490, (i // LEGEND_COLUMNS) * LEGEND_ROW
        parts.append(
            f'<rect x="{x}" y="{y}" width="30" height="26" fill="{band.colour}" '
            f'stroke="{STROKE}" stroke-width="1"/>'
            f'<text x="{x + 40}" y="{y + 21}" font-size="23">{escape(band.words)}</text>'
        )
    below = rows * LEGEND_ROW + 22
    for n, line in enumerate(NOTE_LINES):
        parts.append(f'<text x="0" y="{below + n * 24}" font-size="19">{escape(line)}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def png(values: Mapping[str, int], *, title: str, pool: Iterable[int] | None = None) -> bytes:
    """The same map as a PNG (matplotlib, Agg, no pyplot: safe in the server's threads)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Polygon

    drawn = province_map()
    drawn_scale = scale(values.values() if pool is None else pool)
    legend = bands(drawn_scale)
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 9}):
        figure = Figure(figsize=(11, 5.6), layout="constrained")
        axes = figure.add_subplot()
        for shape in drawn.shapes:
            colour = colour_of(values.get(shape.code), drawn_scale)
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

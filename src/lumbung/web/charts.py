"""Bar charts drawn on the server as SVG: no JavaScript library, a few kilobytes at most."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from markupsafe import Markup, escape

from lumbung.numbers import grouped

BAR = 18  # px per bar
GAP = 6
LABEL_WIDTH = 170
WIDTH = 640


def bar_chart(
    rows: Sequence[tuple[str, int]],
    *,
    title: str,
    limit: int = 40,
    amount: Callable[[int], str] | None = None,
    ordered: bool = False,
    scale: int | None = None,
) -> Markup:
    """Horizontal bars, largest first (`ordered`: in the order given, a trend's), at most
    `limit` of them; values are integer rupiah unless `amount` says how to show them; a bar
    `scale` long fills the width (default: the longest)."""
    shown = (
        list(rows)[:limit] if ordered else sorted(rows, key=lambda r: r[1], reverse=True)[:limit]
    )
    top = scale or max((v for _, v in shown), default=0) or 1
    height = max(1, len(shown)) * (BAR + GAP) + 30
    span = WIDTH - LABEL_WIDTH - 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(shown):
        y = 20 + i * (BAR + GAP)
        width = max(1, round(span * value / top))
        name = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR - 5}" text-anchor="end" '
            f'font-size="12">{escape(name)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR}" fill="#00703c"/>'
            f'<text x="{LABEL_WIDTH + width + 4}" y="{y + BAR - 5}" font-size="12">'
            f"{escape(amount(value)) if amount else 'Rp' + grouped(value)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def province_map(
    values: Mapping[str, int], *, title: str, pool: Iterable[int] | None = None
) -> Markup:
    """A map of the provinces coloured by `values` (code → integer rupiah; a province without
    one is drawn white), its classes made from `pool` (every map's values) when several maps
    are compared (reports/province_map.py)."""
    from lumbung.reports.province_map import svg

    return Markup(svg(values, title=title, pool=pool))  # noqa: S704 - province_map escapes its text

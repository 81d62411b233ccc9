"""Report charts and words: PNG and SVG produced and readable, amounts short in Indonesian."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from lumbung.errors import ValidationFailed
from lumbung.reports.charts import chart
from lumbung.reports.labels import percent_text, short_rupiah
from lumbung.reports.realisation import CycleRealisation, Realisation, RealisationReport

REGENCIES = [
    ("31.71", "Kota Adm. Jakarta Pusat"),
    ("32.73", "Kota Bandung"),
    ("33.74", "Kota Semarang"),
    ("35.78", "Kota Surabaya"),
    ("11.06", "Kabupaten Aceh Besar dengan nama yang sangat panjang sekali"),
]


def row(code: str, name: str | None, entitled: int, paid: int) -> Realisation:
    rest = entitled - paid
    return Realisation(
        code,
        name,
        entitled // 600_000,
        entitled // 500_000,
        paid // 600_000,
        entitled,
        paid,
        rest // 4,
        rest // 4,
        rest - 3 * (rest // 4),
        rest // 4,
    )


def sample(cycles: int = 1) -> RealisationReport:
    found = []
    for n in range(cycles):
        rows = [
            row(code, name, (i + 1) * 3_000_000_000 + n * 400_000_000, (i + 1) * 2_100_000_000)
            for i, (code, name) in enumerate(REGENCIES)
        ]
        total = Realisation(
            "",
            None,
            *(
                sum(getattr(r, f) for r in rows)
                for f in (
                    "beneficiaries",
                    "transactions",
                    "paid_beneficiaries",
                    "entitled_idr",
                    "paid_idr",
                    "failed_idr",
                    "returned_idr",
                    "pending_idr",
                    "cancelled_idr",
                )
            ),
        )
        found.append(
            CycleRealisation(
                f"PKH-2026-T{n + 1}", date(2026, 1 + 3 * n, 1), "approved", rows, total
            )
        )
    return RealisationReport(
        "PKH", "Program Keluarga Harapan", "household", "regency", None, None, found
    )


def test_amounts_read_short_and_percentages_with_a_comma() -> None:
    assert short_rupiah(1_234_567_890) == "Rp1,2 M"
    assert short_rupiah(1_250_000_000_000) == "Rp1,3 T"
    assert short_rupiah(350_000_000) == "Rp350 jt"
    assert short_rupiah(15_400) == "Rp15,4 rb"
    assert short_rupiah(900) == "Rp900"
    assert short_rupiah(999_960_000) == "Rp1 M"  # rounded up to the next word's 1
    assert percent_text(Decimal("87.50")) == "87,5%"
    assert percent_text(Decimal("100.00")) == "100%"
    assert percent_text(None) == "–"
    assert all(r.adds_up for c in sample(2).cycles for r in [*c.rows, c.total])


@pytest.mark.parametrize(("kind", "cycles"), [("region", 1), ("trend", 4)])
def test_png_and_svg_are_produced_and_carry_the_words(
    kind: str, cycles: int, tmp_path: Path
) -> None:
    report = sample(cycles)
    png = chart(report, fmt="png", kind=kind)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    image = Image.open(io.BytesIO(png))
    assert image.width >= 700 and image.height >= 300
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50  # drawn, not blank
    (tmp_path / f"{kind}.png").write_bytes(png)
    svg = chart(report, fmt="svg", kind=kind)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    words = "".join(root.itertext())
    assert "Realisasi PKH" in words and "Dibayar" in words and "Hak" in words
    assert "Rp" in words and "%" in words
    if kind == "region":
        assert "Kota Bandung (32.73)" in words and "70%" in words
    else:
        assert "PKH-2026-T4" in words
    assert chart(report, fmt="svg", kind=kind) == svg  # no date, no random ids


def test_the_default_chart_follows_the_cycles_and_bad_choices_are_refused() -> None:
    one = ET.fromstring(chart(sample(1), fmt="svg"))
    assert "per kabupaten/kota" in "".join(one.itertext())
    several = ET.fromstring(chart(sample(3), fmt="svg"))
    assert "per siklus" in "".join(several.itertext())
    with pytest.raises(ValidationFailed, match="pdf"):
        chart(sample(), fmt="pdf")
    with pytest.raises(ValidationFailed, match="pie"):
        chart(sample(), fmt="png", kind="pie")
    empty = RealisationReport(
        "PKH",
        "PKH",
        "household",
        "regency",
        "31.71",
        "Jakarta Pusat",
        [
            CycleRealisation(
                "PKH-1",
                date(2026, 1, 1),
                "approved",
                [],
                Realisation("31.71", "Jakarta Pusat", *([0] * 9)),
            )
        ],
    )
    assert "Tidak ada data" in "".join(ET.fromstring(chart(empty, fmt="svg")).itertext())

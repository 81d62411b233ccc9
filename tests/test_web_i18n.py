"""The pages' words: every key in both languages, every key a page names known, and no
template text that bypasses the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from lumbung.auth.roles import Role
from lumbung.cycles.models import CYCLE_STATES, ENROLLMENT_STATES
from lumbung.jobs.models import JOB_STATES
from lumbung.registry import vocab
from lumbung.web import i18n

WEB = Path(i18n.__file__).parent
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
SOURCES = sorted(WEB.glob("*.py"))
# t("key") in templates and ctx.t("key") in pages; not .get("…") and the like.
LITERAL = re.compile(r'(?<![\w.])(?:ctx\.)?t\("([a-z0-9_.]+)"')
# A key built from a prefix and a value: t("role." ~ user.role.value) or ctx.t("level." + …).
PREFIX = re.compile(r'(?<![\w.])(?:ctx\.)?t\("([a-z0-9_.]+\.)" *[~+]')
# What a template may show without the catalog: codes, units and punctuation.
ALLOWED_WORDS = {
    "KK",
    "NIK",
    "ID",
    "Rp",
    "CSV",
    "XLSX",
    "Lumbung",
    "English",
    "Bahasa",
    "Indonesia",
}


def test_every_key_exists_in_both_languages() -> None:
    assert set(i18n.CATALOG["id"]) == set(i18n.CATALOG["en"])
    for lang in i18n.LANGUAGES:
        assert all(text.strip() for text in i18n.CATALOG[lang].values()), lang


def test_the_placeholders_agree_between_languages() -> None:
    field = re.compile(r"\{(\w+)\}")
    for key, indonesian in i18n.CATALOG["id"].items():
        assert set(field.findall(indonesian)) == set(field.findall(i18n.CATALOG["en"][key])), key


def _used() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in [*TEMPLATES, *SOURCES]:
        source = path.read_text(encoding="utf-8")
        keys |= {k for k in LITERAL.findall(source) if not k.endswith(".")}
        prefixes |= set(PREFIX.findall(source))
    return keys, prefixes


def test_every_key_a_page_names_is_in_the_catalog() -> None:
    keys, prefixes = _used()
    assert len(keys) > 100  # the pattern still finds them
    assert keys - set(i18n.CATALOG["id"]) == set()
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in i18n.CATALOG["id"]), prefix


def test_every_value_of_a_built_key_is_in_the_catalog() -> None:
    """The values that complete a prefix: roles, kinds, states, columns, levels."""
    catalog = i18n.CATALOG["id"]
    expected = {
        "role.": [r.value for r in Role],
        "propose.kind.": list(vocab.REQUEST_KINDS),
        "request.state.": list(vocab.REQUEST_STATES),
        "job.state.": list(JOB_STATES),
        "job.kind.": ["import", "release", "score", "cycle_run"],
        "field.": [*vocab.HOUSEHOLD_COLUMNS, *vocab.MEMBER_COLUMNS],
        "level.": ["province", "regency"],
        "member.status.": ["deceased", "moved", "removed"],
        "queue.accept.": ["proposed", "verified"],
        "users.": ["activated", "deactivated"],
        "tokens.state.": ["active", "expired", "revoked"],
        "import.col.": ["file", "row", "column", "code", "message"],
        "explain.": ["outcome", "eligible", "entitled", "amount_idr", "decile", "score"],
        "status.": [
            *vocab.HOUSEHOLD_STATUS,
            *vocab.MEMBER_STATUS,
            *ENROLLMENT_STATES,
        ],
        "cycle.state.": list(CYCLE_STATES),
        **{
            f"value.{column}.": list(codes)
            for column, codes in {**vocab.HOUSEHOLD_ENUMS, **vocab.MEMBER_ENUMS}.items()
        },
    }
    for prefix, values in expected.items():
        missing = [v for v in values if prefix + v not in catalog]
        assert missing == [], prefix


def _bare_text(source: str) -> list[str]:
    """Words of a template outside Jinja expressions, statements, comments and tags."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    source = re.sub(r"<[^>]*>", " ", source, flags=re.S)
    source = re.sub(r"&[a-z]+;|&#\d+;", " ", source)
    return re.findall(r"[A-Za-z]{2,}", source)


def test_templates_show_no_text_outside_the_catalog() -> None:
    for path in TEMPLATES:
        words = [w for w in _bare_text(path.read_text(encoding="utf-8")) if w not in ALLOWED_WORDS]
        assert words == [], (path.name, words)


def test_the_bare_text_check_finds_text() -> None:
    assert _bare_text('<p class="x">Simpan {{ t("a") }}</p>') == ["Simpan"]


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert i18n.translate("en", "home.hello", name="Siti") == "Welcome, Siti"
    assert i18n.translate("xx", "home.title") == "Beranda"
    assert i18n.translate("en", "no.such.key") == "no.such.key"


def test_the_web_package_builds_no_queries() -> None:
    """Pages call services: nothing in lumbung.web imports sqlalchemy."""
    import ast

    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "sqlalchemy" for n in names), path.name


def test_numbers_amounts_and_values_read_as_each_language_writes_them() -> None:
    assert i18n.number("id", 9744) == "9.744" and i18n.number("en", 9744) == "9,744"
    assert i18n.number("id", 13.421744400000001) == "13,4217"
    assert i18n.number("en", 13.421744400000001) == "13.4217"
    assert i18n.number("en", -0.0) == "0" and i18n.number("id", 2.0) == "2"
    assert i18n.rupiah("id", 600000) == "Rp600.000"
    assert i18n.rupiah("en", 1250000) == "Rp1,250,000"
    assert i18n.label("id", True) == "Ya" and i18n.label("en", False) == "No"
    assert i18n.label("id", "1", "has_car") == "Ya"
    assert i18n.label("id", "kepala_keluarga", "relationship") == "Kepala keluarga"
    assert i18n.label("en", "sumur_tak_terlindung", "water_source") == "Unprotected well"
    assert i18n.label("id", "approved") == "ditetapkan"
    assert i18n.label("id", "kode-tak-dikenal", "lighting") == "kode-tak-dikenal"
    assert i18n.key_label("en", "total_idr", "result") == "Total"
    assert i18n.key_label("en", "something_new", "result") == "something new"


def test_every_feature_and_component_has_a_label_in_both_languages() -> None:
    """What the explanation names: every feature a model or a rule may use, the terms of a
    score, and every benefit component of the shipped programs."""
    from lumbung.cycles.compute import components
    from lumbung.programs.definition import load_shipped_programs
    from lumbung.targeting.vocabulary import (
        HOUSEHOLD_FEATURES,
        MEMBER_FEATURES,
        RANKING_FEATURES,
    )

    features = [*HOUSEHOLD_FEATURES, *MEMBER_FEATURES, *RANKING_FEATURES]
    features += ["intercept", "area_province", "area_regency"]
    names = {c.name for d in load_shipped_programs().values() for c in components(d)}
    assert {"pregnant", "elderly", "bantuan", "per_orang"} <= names
    for lang in i18n.LANGUAGES:
        assert [f for f in features if f"feature.{f}" not in i18n.CATALOG[lang]] == [], lang
        assert [c for c in names if f"component.{c}" not in i18n.CATALOG[lang]] == [], lang
    assert i18n.feature_label("en", "n_age_0_6") == "Members aged 0–6"
    assert i18n.feature_label("id", "head_education") == "Pendidikan tertinggi kepala keluarga"
    assert i18n.feature_value("en", "sd", "head_education") == "Primary school"
    assert i18n.feature_value("id", True, "has_car") == "Ya"
    assert i18n.component_label("en", "early_childhood") == "Young child (0–6)"
    # A program of one's own: its definition's label, else the name readable.
    assert i18n.component_label("en", "lansia_x", {"lansia_x": "Lansia X"}) == "Lansia X"
    assert i18n.component_label("en", "lansia_x") == "lansia x"

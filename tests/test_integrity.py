"""Tampering that is seen: direct edits of the registry's rows, of the chain, of the data folder.

Each intrusion is made the way someone with the database's address (but not the key file)
would make it: plain SQL through the engine, bypassing Lumbung.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, kk, write_batch
from helpers import run_import
from lumbung.audit import integrity, keys, seal, tally
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.service import get_user, set_active
from lumbung.db import create_engine, session_scope
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.installation.datafolder import MARKER, owned, registry_id
from lumbung.registry import proposals, workflow
from lumbung.registry.models import Household, Member
from lumbung.releases.service import create_release, verify_release

pytestmark = pytest.mark.usefixtures("users")


def approved_registry(engine: Engine, tmp_path: Path, serials: tuple[int, ...] = (1, 2, 3)) -> None:
    households, members = [], []
    for serial in serials:
        h, m = family(serial)
        households.append(h)
        members += m
    run_import(engine, write_batch(tmp_path / "batch", households, members), status="approved")


def verified(engine: Engine, data_dir: Path | None = None, **options: Any) -> audit.ChainReport:
    with session_scope(engine) as session:
        return integrity.verify(session, data_dir=data_dir, **options)


def release(engine: Engine, data_dir: Path, label: str = "R1") -> None:
    with session_scope(engine) as session:
        create_release(
            session,
            actor=user(session, "determiner"),
            label=label,
            releases_dir=data_dir / "releases",
        )


def exit_family(engine: Engine, kk_number: str) -> None:
    with session_scope(engine) as session:
        household = session.execute(
            select(Household).where(Household.kk_number == kk_number)
        ).scalar_one()
        request = proposals.propose(
            session,
            actor=user(session, "operator"),
            kind="exit",
            payload={"reason": "pindah ke luar negeri"},
            kk_number=kk_number,
            base_version=household.version,
        ).request
        request_id = request.id
    with session_scope(engine) as session:
        workflow.verify(session, actor=user(session, "verifier"), request_id=request_id)
    with session_scope(engine) as session:
        workflow.determine(session, actor=user(session, "determiner"), request_id=request_id)


def test_a_registry_written_by_lumbung_verifies_whole(engine: Engine, tmp_path: Path) -> None:
    approved_registry(engine, tmp_path)
    exit_family(engine, kk(2))
    report = verified(engine)
    assert report.ok, report.problems
    assert report.registry is not None
    assert report.registry["household"] == {"rows": 3, "unsealed": 0, "altered": 0}
    assert report.registry["by_status"]["household"] == {"approved": 2, "inactive": 1}
    # The chain adds up to the same counts: the import's, then the exit's move.
    assert report.expected["household"] == {"approved": 2, "inactive": 1}
    assert report.expected["member"] == report.registry["by_status"]["member"]


INTRUSIONS = {
    "a family's car": (
        "UPDATE household SET has_car = NOT has_car WHERE kk_number = :kk",
        ["household id {hh}: isi tidak cocok dengan segelnya (diubah di luar Lumbung)"],
    ),
    "a member's name": (
        "UPDATE member SET name = 'NAMA LAIN' WHERE id = (SELECT min(id) FROM member m "
        "WHERE m.household_id = (SELECT id FROM household WHERE kk_number = :kk))",
        ["member id {mb}: isi tidak cocok dengan segelnya (diubah di luar Lumbung)"],
    ),
}


@pytest.mark.parametrize("what", sorted(INTRUSIONS))
def test_a_direct_edit_of_a_row_is_seen(engine: Engine, tmp_path: Path, what: str) -> None:
    approved_registry(engine, tmp_path)
    sql, expected = INTRUSIONS[what]
    with session_scope(engine) as session:
        hh = session.execute(select(Household.id).where(Household.kk_number == kk(1))).scalar()
        mb = session.execute(select(func.min(Member.id)).where(Member.household_id == hh)).scalar()
    with engine.begin() as conn:
        conn.execute(text(sql), {"kk": kk(1)})
    report = verified(engine)
    assert not report.ok
    assert report.problems == [p.format(hh=hh, mb=mb) for p in expected]
    # And a release does not freeze it.
    with pytest.raises(Conflict, match="diubah di luar Lumbung"):
        release(engine, tmp_path / "data")
    assert not (tmp_path / "data" / "releases" / "R1").exists()


def test_an_exited_family_set_back_to_approved_is_seen(engine: Engine, tmp_path: Path) -> None:
    approved_registry(engine, tmp_path)
    exit_family(engine, kk(2))
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE household SET status = 'approved', status_reason = NULL "
                "WHERE kk_number = :kk"
            ),
            {"kk": kk(2)},
        )
    report = verified(engine)
    hh = household_id(engine, kk(2))
    assert report.problems == [
        f"household id {hh}: isi tidak cocok dengan segelnya (diubah di luar Lumbung)",
        "household berstatus approved: 3 baris, menurut rantai audit 2 (baris ditambah, dihapus "
        "atau diubah statusnya di luar Lumbung)",
        "household berstatus inactive: 0 baris, menurut rantai audit 1 (baris ditambah, dihapus "
        "atau diubah statusnya di luar Lumbung)",
    ]


def test_a_row_copied_back_from_before_is_seen_by_the_counts(
    engine: Engine, tmp_path: Path
) -> None:
    """A row put back as it was before a decision carries a valid seal (its old one); the
    chain's counts by status still tell."""
    approved_registry(engine, tmp_path)
    with engine.connect() as conn:
        before = dict(
            conn.execute(text("SELECT * FROM household WHERE kk_number = :kk"), {"kk": kk(2)})
            .mappings()
            .one()
        )
    exit_family(engine, kk(2))
    columns = [c for c in before if c not in ("id", "created_at", "updated_at")]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE household SET "
                + ", ".join(f"{c} = :{c}" for c in columns)
                + " WHERE id = :id"
            ),
            before,
        )
    report = verified(engine)
    assert not report.ok
    assert all("rantai audit" in p for p in report.problems)
    assert len(report.problems) == 3  # approved and inactive counts, and the family's version
    assert f"household id {before['id']}: versi {before['version']}, padahal" in " ".join(
        report.problems
    )


def test_rows_deleted_or_inserted_directly_are_seen(engine: Engine, tmp_path: Path) -> None:
    approved_registry(engine, tmp_path)
    hh = household_id(engine, kk(3))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM member WHERE household_id = :id"), {"id": hh})
        conn.execute(text("DELETE FROM household WHERE id = :id"), {"id": hh})
    report = verified(engine)
    assert report.problems[0].startswith("household berstatus approved: 2 baris, menurut rantai")
    assert report.problems[1].startswith("member berstatus active: ")
    # A forged family, copied from a real one under a new KK: it has no seal of its own.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))  # and the whole chain with it
        columns = [c.name for c in Household.__table__.columns if c.name not in ("id", "seal")]
        conn.execute(
            text(
                f"INSERT INTO household ({', '.join(columns)}) SELECT "
                + ", ".join("'3171010101209999'" if c == "kk_number" else c for c in columns)
                + " FROM household WHERE kk_number = :kk"
            ),
            {"kk": kk(1)},
        )
    report = verified(engine)
    assert any(p.endswith(": tanpa segel") for p in report.problems)
    # An empty chain with families in the registry: every count is off.
    assert "household berstatus approved: 3 baris, menurut rantai audit 0" in " ".join(
        report.problems
    )


def test_a_deleted_chain_is_seen_against_the_release_anchors(
    engine: Engine, tmp_path: Path
) -> None:
    approved_registry(engine, tmp_path)
    data = tmp_path / "data"
    release(engine, data)
    with session_scope(engine) as session:
        length = audit.length(session)
    assert verified(engine, data).ok
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id > 2"))
    problems = verified(engine, data, registry=False).problems
    assert problems == [
        f"rilis R1: dicatat sesudah peristiwa {length - 1}, kini hanya sampai 2 (peristiwa di "
        "ujung dihapus)"
    ]
    # A manifest edited to anchor something else is not trusted as an anchor.
    manifest = data / "releases" / "R1" / "manifest.json"
    body = json.loads(manifest.read_text())
    body["audit_events"] = 2
    manifest.write_text(json.dumps(body))
    problems = verified(engine, data, registry=False).problems
    assert problems == ["rilis R1: manifest.sig: tanda tangan tidak cocok dengan manifest.json"]


def test_a_chain_rewritten_whole_without_the_key_is_not_taken_for_an_old_one(
    engine: Engine, tmp_path: Path
) -> None:
    """Rewritten entirely as a chain from before keys (plain sha256, made up at will), the
    chain has no keyed `audit seal` event vouching for it."""
    approved_registry(engine, tmp_path)
    as_before_keys(engine)
    report = verified(engine, registry=False)
    assert report.problems == [
        f"peristiwa 1–{report.events}: tanpa kunci dan tidak diakui oleh `lumbung audit seal`"
    ]


def test_a_change_without_an_audit_event_cannot_be_committed(engine: Engine) -> None:
    with pytest.raises(tally.UnrecordedChange), session_scope(engine) as session:
        session.add(bare_household("3171010101200077"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 0


def test_the_import_and_python_seal_the_same_values_alike(engine: Engine, tmp_path: Path) -> None:
    """DuckDB seals imported rows, Python checks them: coordinates, fractions, empty cells,
    non-Latin names and dates all give the same text in both."""
    h, m = family(1, latitude="-6.1753924", longitude="106.8271528", floor_area_m2="36,5")
    h2, m2 = family(2, latitude="", longitude="", address="Jl. Ma’ruf — Gg. 3", floor_area_m2="7")
    m[0]["name"] = "Ṣiti ʿAisyah"
    run_import(engine, write_batch(tmp_path / "b", [h, h2], m + m2))
    key = keys.keyring().current
    with engine.connect() as conn:
        for name, table in seal.TABLES.items():
            rows = conn.execute(select(table)).mappings().all()
            assert rows
            for row in rows:  # sealed by DuckDB as imported, recomputed by Python as stored
                assert row["seal"] == seal.seal_of(name, row, key), (name, row["id"])
    with session_scope(engine) as session:
        for name in seal.TABLES:
            report = seal.check_table(session, name)
            assert (report.rows > 0, report.unsealed, report.broken) == (True, 0, 0), name


def as_before_keys(engine: Engine) -> None:
    """The chain as a registry from before migration 0007 has it: plain sha256, no key, no
    tally (and no operating-system user or channel)."""
    with session_scope(engine) as session:
        prev = audit.GENESIS
        for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            event.key_id = event.os_user = event.channel = event.tally = None
            event.prev_hash = prev
            event.hash = audit.hash_of(event)
            prev = event.hash


def test_rows_from_before_seals_are_sealed_once(engine: Engine, tmp_path: Path) -> None:
    approved_registry(engine, tmp_path)
    as_before_keys(engine)
    with engine.begin() as conn:  # as migration 0007 leaves a registry it found
        conn.execute(text("UPDATE household SET seal = NULL"))
        conn.execute(text("UPDATE member SET seal = NULL WHERE id % 2 = 0"))
    legacy = verified(engine).events
    report = verified(engine)
    assert report.registry is not None
    assert report.registry["household"]["unsealed"] == 3
    assert (
        f"peristiwa 1–{legacy}: tanpa kunci dan tidak diakui oleh `lumbung audit seal`"
        in report.problems
    )
    with session_scope(engine) as session, pytest.raises(PermissionDenied, match="admin"):
        integrity.seal_registry(session, actor=user(session, "determiner"))
    with session_scope(engine) as session:
        done = integrity.seal_registry(session, actor=user(session, "admin"))
    assert done["sealed"]["household"] == 3
    assert verified(engine).ok, verified(engine).problems
    # Rewritten without the key afterwards, the old events are no longer what was vouched for.
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 1"))
    assert "peristiwa 1: isi diubah (hash berbeda)" in verified(engine).problems
    # A row altered directly is never sealed over: that would launder the edit.
    with engine.begin() as conn:
        conn.execute(text("UPDATE household SET motorbikes = 9 WHERE kk_number = :k"), {"k": kk(1)})
    with session_scope(engine) as session, pytest.raises(PermissionDenied, match="tidak cocok"):
        integrity.seal_registry(session, actor=user(session, "admin"))


def bare_household(kk_number: str) -> Household:
    """A family row made through the ORM alone, outside every service."""
    return Household(
        kk_number=kk_number,
        village_code="31.71.01.1001",
        district_code="31.71.01",
        regency_code="31.71",
        province_code="31",
        floor_area_m2=20.0,
        floor_material="semen",
        wall_material="tembok",
        roof_material="genteng",
        toilet="sendiri",
        water_source="ledeng",
        lighting="pln_900",
        cooking_fuel="gas_3kg",
        tenure="milik_sendiri",
        owns_land=False,
        motorbikes=0,
        has_car=False,
        has_refrigerator=False,
        has_air_conditioner=False,
        has_gold=False,
        large_livestock=0,
        status="approved",
    )


def household_id(engine: Engine, kk_number: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM household WHERE kk_number = :kk"), {"kk": kk_number}
            ).scalar_one()
        )


# A data folder belongs to one registry.


def second_registry(sqlite_template: Path, tmp_path: Path) -> Engine:
    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    other = create_engine(f"sqlite:///{path}")
    with other.begin() as conn:  # a registry of its own, as `db upgrade` gives every database
        conn.execute(text("UPDATE installation SET registry_id = 'another-registry'"))
    return other


def test_a_data_folder_belongs_to_one_registry(
    engine: Engine, tmp_path: Path, sqlite_template: Path
) -> None:
    approved_registry(engine, tmp_path)
    data = tmp_path / "data"
    release(engine, data, "2026-12")
    with session_scope(engine) as session:
        ours = registry_id(session)
    assert json.loads((data / MARKER).read_text())["registry_id"] == ours
    manifest = (data / "releases" / "2026-12" / "manifest.json").read_bytes()
    other = second_registry(sqlite_template, tmp_path)
    try:
        with session_scope(other) as session:
            # Every command that touches the folder is refused before it writes.
            with pytest.raises(Conflict, match="milik registri lain"):
                owned(session, data)
            with pytest.raises(Conflict, match="milik registri lain"):
                verify_release(session, label="2026-12", releases_dir=data / "releases")
    finally:
        other.dispose()
    assert (data / "releases" / "2026-12" / "manifest.json").read_bytes() == manifest
    with session_scope(engine) as session:
        assert verify_release(session, label="2026-12", releases_dir=data / "releases").ok


def test_an_unclaimed_folder_of_another_registry_is_not_adopted(
    engine: Engine, tmp_path: Path
) -> None:
    """A folder written before folders were claimed, holding a release this database does not
    know, is not taken over; a folder with nothing in it is."""
    data = tmp_path / "data"
    (data / "releases" / "2026-12").mkdir(parents=True)
    (data / "releases" / "2026-12" / "manifest.json").write_text("{}")
    with session_scope(engine) as session, pytest.raises(Conflict, match="releases/2026-12"):
        owned(session, data)
    assert not (data / MARKER).exists()
    with session_scope(engine) as session:
        assert owned(session, tmp_path / "fresh") == tmp_path / "fresh"
    assert (tmp_path / "fresh" / MARKER).exists()


# Keys.


def test_events_name_their_key_and_a_rotated_key_keeps_the_past_checkable(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumbung.config import get_settings

    path = tmp_path / "rotated.key"
    shutil.copy(keys.keyring().path, path)
    path.chmod(0o600)
    monkeypatch.setenv("LUMBUNG_KEY_FILE", str(path))
    get_settings.cache_clear()
    try:
        approved_registry(engine, tmp_path, (1,))
        rotated = keys.rotate(path)
        assert rotated.id == "k2"
        approved_registry(engine, tmp_path / "more", (2,))
        with session_scope(engine) as session:
            used = set(session.execute(select(AuditEvent.key_id)).scalars())
            seals = {
                s.split(":")[0] for s in session.execute(select(Household.seal)).scalars() if s
            }
        assert {"k1", "k2"} <= used
        assert seals == {"k1", "k2"}
        assert verified(engine).ok
        # Without the old key the past cannot be checked, and says so.
        path.write_text(f"k2 {rotated.secret_hex}\n")
        report = verified(engine)
        assert "peristiwa 1: kunci k1 tidak dikenal" in report.problems
    finally:
        get_settings.cache_clear()


def test_a_key_file_that_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keys.create(path)
    with pytest.raises(Conflict, match="sudah ada"):
        keys.create(path)
    path.chmod(0o644)
    with pytest.raises(ValidationFailed, match="chmod 600"):
        keys.load(path)
    with pytest.raises(NotFound, match="tidak ada"):
        keys.load(tmp_path / "missing.key")


# Users.


def test_a_deactivated_user_can_no_longer_act(engine: Engine) -> None:
    with session_scope(engine) as session:
        admin = user(session, "admin")
        set_active(session, actor=admin, username="operator", active=False, reason="pensiun")
    with session_scope(engine) as session, pytest.raises(NotFound, match="tidak aktif"):
        get_user(session, username="operator")
    with session_scope(engine) as session:
        admin = user(session, "admin")
        with pytest.raises(ValidationFailed, match="diri sendiri"):
            set_active(session, actor=admin, username="admin", active=False, reason="x")
        with pytest.raises(ValidationFailed, match="alasan"):
            set_active(session, actor=admin, username="verifier", active=False, reason=" ")
        with pytest.raises(PermissionDenied):
            set_active(
                session,
                actor=user(session, "determiner"),
                username="verifier",
                active=False,
                reason="x",
            )
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.deactivate")
        ).scalar_one()
        assert event.diff == {
            "username": "operator",
            "active": False,
            "reason": "pensiun",
            "sessions_ended": 0,
        }
        set_active(session, actor=admin, username="operator", active=True, reason="kembali")
    with session_scope(engine) as session:
        assert get_user(session, username="operator").active


# The commands.


def test_the_commands_for_keys_users_and_a_tampered_registry(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lumbung.cli import app, common
    from lumbung.config import get_settings

    def run(*args: str) -> Any:
        get_settings.cache_clear()
        for cached in common._engines.values():
            cached.dispose()
        common._engines.clear()
        return CliRunner().invoke(app, list(args))

    key_file = tmp_path / "own.key"
    shutil.copy(keys.keyring().path, key_file)
    key_file.chmod(0o600)
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LUMBUNG_KEY_FILE", str(key_file))
    monkeypatch.chdir(tmp_path)
    try:
        # A registry with events and no key file: `db upgrade` does not paper over the loss.
        monkeypatch.setenv("LUMBUNG_KEY_FILE", str(tmp_path / "lost.key"))
        upgraded = run("db", "upgrade", "--json")
        assert upgraded.exit_code == 0, upgraded.output
        assert json.loads(upgraded.stdout)["key_created"] is None
        assert not (tmp_path / "lost.key").exists()
        monkeypatch.setenv("LUMBUNG_KEY_FILE", str(key_file))

        public = run("keys", "public", "--json")
        assert json.loads(public.stdout) == [
            {"key_id": "k1", "public_key": keys.load(key_file).current.public_hex()}
        ]
        off = run("users", "deactivate", "operator", "--reason", "mutasi", "--as", "admin")
        assert off.exit_code == 0, off.output
        refused = run("registry", "show", kk(1), "--as", "operator")
        assert refused.exit_code == 1
        assert "tidak aktif" in refused.output

        approved_registry(engine, tmp_path)
        assert run("audit", "verify").exit_code == 0
        with engine.begin() as conn:
            conn.execute(text("UPDATE household SET has_gold = NOT has_gold"))
        tampered = run("audit", "verify", "--json")
        assert tampered.exit_code == 1
        body = json.loads(tampered.stdout)
        assert body["registry"]["household"] == {"rows": 3, "unsealed": 0, "altered": 3}
        assert run("audit", "verify", "--chain-only").exit_code == 0

        rotated = run("keys", "rotate", "--json")
        assert json.loads(rotated.stdout)["key_id"] == "k2"
        assert keys.load(key_file).current.id == "k2"
    finally:
        get_settings.cache_clear()
        for cached in common._engines.values():
            cached.dispose()
        common._engines.clear()


def test_db_upgrade_makes_the_key_file_of_a_new_registry(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lumbung.cli import app, common
    from lumbung.config import get_settings

    database = tmp_path / "new.db"
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("LUMBUNG_KEY_FILE", str(tmp_path / "new.key"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    common._engines.clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "Kunci segel k1 dibuat" in " ".join(result.stdout.split())
        assert (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600
        again = CliRunner().invoke(app, ["db", "upgrade", "--json"])
        assert json.loads(again.stdout)["key_created"] is None
    finally:
        get_settings.cache_clear()
        for cached in common._engines.values():
            cached.dispose()
        common._engines.clear()


def test_a_value_holding_the_separator_is_reported_even_with_a_matching_seal(
    engine: Engine, tmp_path: Path
) -> None:
    """Values are joined by the unit separator; a row holding one could be read two ways, so
    it is reported whatever its seal (here one made with the key, as if Lumbung had)."""
    import duckdb
    import pyarrow as pa

    approved_registry(engine, tmp_path, (1,))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE member SET name = 'SITI' || :us || 'AMINAH' WHERE id = 2"), {"us": "\x1f"}
        )
        row = dict(conn.execute(select(Member.__table__).where(Member.id == 2)).mappings().one())
    with pytest.raises(ValueError, match="control character"):
        seal.seal_of("member", row, keys.keyring().current)
    con = duckdb.connect()
    seal.prepare_duckdb(con, keys.keyring().current)
    columns = seal.typed_columns("member")
    rows = pa.Table.from_pylist([{c: row[c] for c in columns}])
    con.register("r", rows)
    forged = con.execute(f"SELECT {seal.seal_sql('member', 'r')} FROM r").fetchall()[0][0]
    with engine.begin() as conn:
        conn.execute(text("UPDATE member SET seal = :s WHERE id = 2"), {"s": forged})
    report = verified(engine)
    assert report.problems == [
        "member id 2: isi tidak cocok dengan segelnya (diubah di luar Lumbung)"
    ]


def test_reasons_and_decrees_are_plain_text(engine: Engine, tmp_path: Path) -> None:
    """What a person types for the record is stored, printed and exported: no control
    character (a NUL failed the command on PostgreSQL), no terminal escape, no bidi mark."""
    from lumbung.registry import decisions

    approved_registry(engine, tmp_path, (1,))
    for bad in ("tidak hadir\x00", "alasan \x1b[31mmerah", "abc\u202edcba", "dua\nbaris"):
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="kendali"):
            set_active(
                session, actor=user(session, "admin"), username="operator", active=False, reason=bad
            )
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="kendali"):
            decisions.decide(
                session, actor=user(session, "verifier"), decision="reject", reason=bad
            )
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="kendali"):
            create_release(
                session,
                actor=user(session, "determiner"),
                label="R1",
                releases_dir=tmp_path / "data" / "releases",
                decree=bad,
            )
        with session_scope(engine) as session:
            version = session.execute(
                select(Household.version).where(Household.kk_number == kk(1))
            ).scalar_one()
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="kendali"):
            proposals.propose(
                session,
                actor=user(session, "operator"),
                kind="exit",
                payload={"reason": bad},
                kk_number=kk(1),
                base_version=version,
            )
    assert verified(engine).ok


def test_rows_rolled_back_are_not_waiting_for_an_event(engine: Engine) -> None:
    """A session that rolled back registry rows can commit other work afterwards."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        session.add(bare_household("3171010101200078"))
        session.flush()
        session.rollback()
        audit.record(session, actor="tester", action="test.after", entity="x", entity_id=1, diff={})
        session.commit()
    assert verified(engine).ok


def test_an_older_row_put_back_after_a_determination_is_seen(
    engine: Engine, tmp_path: Path
) -> None:
    """The row as it was before an update carries its old, valid seal and the same status;
    the determination recorded the family's new version, and the old one is older."""
    approved_registry(engine, tmp_path, (1,))
    with engine.connect() as conn:
        before = dict(
            conn.execute(text("SELECT * FROM household WHERE kk_number = :kk"), {"kk": kk(1)})
            .mappings()
            .one()
        )
    with session_scope(engine) as session:
        request_id = proposals.propose(
            session,
            actor=user(session, "operator"),
            kind="update",
            payload={"changes": {"toilet": "umum"}},
            kk_number=kk(1),
            base_version=before["version"],
        ).request.id
    with session_scope(engine) as session:
        workflow.verify(session, actor=user(session, "verifier"), request_id=request_id)
    with session_scope(engine) as session:
        workflow.determine(session, actor=user(session, "determiner"), request_id=request_id)
    assert verified(engine).ok
    columns = [c for c in before if c not in ("id", "created_at", "updated_at")]
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE household SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :id"
            ),
            before,
        )
    report = verified(engine)
    assert report.problems == [
        f"household id {before['id']}: versi {before['version']}, padahal rantai audit mencatat "
        f"versi {before['version'] + 1} (baris lama dipasang kembali di luar Lumbung)"
    ]
    with pytest.raises(Conflict, match="baris lama dipasang kembali"):
        release(engine, tmp_path / "data")


@pytest.mark.parametrize(
    "intrusion",
    [
        "DELETE FROM audit_event",
        "DELETE FROM audit_event WHERE id = (SELECT max(id) FROM audit_event)",
        "DELETE FROM member WHERE household_id = (SELECT max(id) FROM household)",
    ],
)
def test_a_release_is_not_made_from_a_tampered_chain_or_registry(
    engine: Engine, tmp_path: Path, intrusion: str
) -> None:
    approved_registry(engine, tmp_path)
    data = tmp_path / "data"
    release(engine, data, "R0")
    with engine.begin() as conn:
        conn.execute(text(intrusion))
    with pytest.raises(Conflict, match="rilis tidak dibuat"):
        release(engine, data, "R1")
    assert not (data / "releases" / "R1").exists()


def test_a_release_the_database_forgot_is_reported(engine: Engine, tmp_path: Path) -> None:
    approved_registry(engine, tmp_path, (1,))
    data = tmp_path / "data"
    release(engine, data, "R1")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM release WHERE label = 'R1'"))
    problem = "rilis R1: ada di folder data tetapi tidak tercatat di database (sisa percobaan"
    assert any(p.startswith(problem) for p in verified(engine, data, registry=False).problems)


def test_a_wrong_key_file_records_nothing_and_a_new_one_is_not_made_over_a_chain(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumbung.auth.roles import Role
    from lumbung.auth.service import create_user
    from lumbung.config import get_settings

    def add_auditor(session: Any, username: str) -> None:
        create_user(
            session,
            actor=user(session, "admin"),
            username=username,
            full_name=username,
            role=Role.AUDITOR,
            region_code=None,
        )

    wrong = tmp_path / "wrong.key"
    keys.create(wrong)  # a k1 of its own: not the chain's
    with monkeypatch.context() as patched:
        patched.setenv("LUMBUNG_KEY_FILE", str(wrong))
        get_settings.cache_clear()
        with session_scope(engine) as session, pytest.raises(Conflict, match="tidak cocok"):
            add_auditor(session, "baru")
        with session_scope(engine) as session:
            assert integrity.ensure_key(session, tmp_path / "fresh.key") is None
        assert not (tmp_path / "fresh.key").exists()
    get_settings.cache_clear()
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="sudah dipakai"):
        add_auditor(session, "OPERATOR")
    assert verified(engine).ok


def test_an_import_does_not_write_into_another_registrys_folder(
    engine: Engine, tmp_path: Path, sqlite_template: Path
) -> None:
    approved_registry(engine, tmp_path, (1,))
    data = tmp_path / "data"
    release(engine, data)
    other = second_registry(sqlite_template, tmp_path)
    try:
        from lumbung.auth.roles import Role
        from lumbung.auth.service import create_user
        from lumbung.registry.import_run import ImportRequest
        from lumbung.registry.importer import import_batch

        with session_scope(other) as session:
            create_user(
                session, actor=None, username="a", full_name="a", role=Role.ADMIN, region_code=None
            )
        h, m = family(2)
        paths = write_batch(tmp_path / "b2", [h], m)
        with session_scope(other) as session, pytest.raises(Conflict, match="milik registri lain"):
            import_batch(
                session,
                actor=get_user(session, username="a"),
                request=ImportRequest(paths=paths, rejects_dir=data / "rejects"),
            )
    finally:
        other.dispose()
    assert not (data / "rejects").exists() or not any((data / "rejects").iterdir())


def test_a_request_edited_in_the_database_after_its_proposal_is_not_applied(
    engine: Engine, tmp_path: Path
) -> None:
    approved_registry(engine, tmp_path, (1,))
    with session_scope(engine) as session:
        version = session.execute(
            select(Household.version).where(Household.kk_number == kk(1))
        ).scalar_one()
        request_id = proposals.propose(
            session,
            actor=user(session, "operator"),
            kind="update",
            payload={"changes": {"toilet": "umum"}},
            kk_number=kk(1),
            base_version=version,
        ).request.id
    with session_scope(engine) as session:
        workflow.verify(session, actor=user(session, "verifier"), request_id=request_id)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE change_request SET payload = :p WHERE id = :id"),
            {"p": json.dumps({"changes": {"toilet": "umum", "has_car": "0"}}), "id": request_id},
        )
    with session_scope(engine) as session, pytest.raises(Conflict, match="diubah di luar"):
        workflow.determine(session, actor=user(session, "determiner"), request_id=request_id)
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT toilet FROM household WHERE kk_number = :kk"), {"kk": kk(1)}
            ).scalar_one()
            == "sendiri"
        )


def test_an_unsupported_database_or_an_unusable_folder_is_said_plainly(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lumbung.cli import app, common
    from lumbung.config import get_settings

    def run(*args: str) -> Any:
        get_settings.cache_clear()
        common._engines.clear()
        return CliRunner().invoke(app, list(args))

    monkeypatch.chdir(tmp_path)
    try:
        monkeypatch.setenv("LUMBUNG_DATABASE_URL", "mysql://x@host/db")
        refused = run("release", "list")
        assert refused.exit_code == 1
        assert "LUMBUNG_DATABASE_URL harus" in " ".join(refused.output.split())
        monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
        (tmp_path / "a-file").write_text("not a folder")
        monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "a-file" / "data"))
        broken = run("release", "verify", "x", "--json")
        assert broken.exit_code == 1  # a message, not a traceback
        assert isinstance(broken.exception, SystemExit)
        assert json.loads(broken.stdout)["error"] in ("file", "conflict")
        monkeypatch.setenv("LUMBUNG_DATA_DIR", "/proc/nope/data")
        proc = run("release", "verify", "x", "--json")
        assert isinstance(proc.exception, SystemExit)
        assert json.loads(proc.stdout) == {
            "error": "file",
            "message": "Berkas atau folder /proc/nope tidak ada.",
        }
    finally:
        get_settings.cache_clear()
        for cached in common._engines.values():
            cached.dispose()
        common._engines.clear()

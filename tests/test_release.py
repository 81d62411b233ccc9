"""Releases: the approved registry frozen as Parquet by province, with a manifest of hashes."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

from conftest import add_user, user
from factories import OTHER_VILLAGE, family, kk, write_batch
from helpers import edit_directly, run_import
from lumbung.audit import service as audit
from lumbung.audit.keys import Key, keyring
from lumbung.audit.models import AuditEvent
from lumbung.auth.roles import Role
from lumbung.db import session_scope
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.installation.datafolder import registry_id
from lumbung.regions import catalog
from lumbung.registry import vocab
from lumbung.registry.models import Household, Member
from lumbung.releases import arrow_reader, export
from lumbung.releases.models import Release
from lumbung.releases.service import ReleaseResult, VerifyReport, create_release, verify_release

pytestmark = pytest.mark.usefixtures("users")

LABEL = "2026-Q4"


def registry(engine: Engine, folder: Path) -> None:
    """Families 1–2 (Jakarta) and 5 (Bandung) approved, one member of family 1 deceased,
    family 3 still proposed, family 4 approved but since inactive."""
    approved, members = [], []
    for serial, village in ((1, None), (2, None), (4, None), (5, OTHER_VILLAGE)):
        h, m = family(serial, **({"village_code": village} if village else {}))
        approved.append(h)
        members += m
    run_import(engine, write_batch(folder / "approved", approved, members), status="approved")
    h3, m3 = family(3)
    run_import(engine, write_batch(folder / "proposed", [h3], m3))
    edit_directly(
        engine, "UPDATE member SET status = 'deceased' WHERE nik = :nik", {"nik": members[2]["nik"]}
    )
    edit_directly(
        engine, "UPDATE household SET status = 'inactive' WHERE kk_number = :kk", {"kk": kk(4)}
    )


def release(
    engine: Engine, releases_dir: Path, label: str = LABEL, actor: str = "determiner"
) -> ReleaseResult:
    with session_scope(engine) as session:
        return create_release(
            session,
            actor=user(session, actor),
            label=label,
            releases_dir=releases_dir,
            decree="SK Mensos 1/HUK/2026",
        )


def check(engine: Engine, releases_dir: Path, label: str = LABEL) -> VerifyReport:
    with session_scope(engine) as session:
        return verify_release(session, label=label, releases_dir=releases_dir)


def parquet_rows(pattern: Path, columns: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT {columns}, regexp_extract(filename, 'province_code=([0-9]+)', 1) "
            "FROM read_parquet($p, filename = true, hive_partitioning = false) ORDER BY ALL",
            {"p": str(pattern)},
        ).fetchall()


def test_release_holds_exactly_the_approved_families_and_active_members(
    engine: Engine, tmp_path: Path
) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    result = release(engine, releases)
    assert (result.release, result.households, result.members) == (LABEL, 3, 8)
    folder = releases / LABEL
    assert result.path == str(folder)
    assert result.manifest == str(folder / "manifest.json")

    # Partitioned by province: one folder per province that has approved families.
    assert sorted(p.name for p in (folder / "households").iterdir()) == [
        "province_code=31",
        "province_code=32",
    ]
    # Every column as the database has it (the codes travel packed: each must land in its own).
    household_columns = [c for c in export.HOUSEHOLD_COLUMNS if c != "province_code"]
    member_columns = [c for c in export.MEMBER_COLUMNS if c != "province_code"]
    households = parquet_rows(
        folder / "households" / "*" / "*.parquet", ", ".join(household_columns)
    )
    members = parquet_rows(folder / "members" / "*" / "*.parquet", ", ".join(member_columns))
    with session_scope(engine) as session:
        expected_households = sorted(  # by id first: ids are unique, NULLs are never compared
            (*(as_stored(getattr(h, c)) for c in household_columns), h.province_code)
            for h in session.execute(
                select(Household).where(Household.status == "approved")
            ).scalars()
        )
        family = {"kk_number": Household.kk_number, "province_code": Household.province_code}
        expected_members = sorted(
            tuple(
                as_stored(row[c] if c in family else getattr(row["Member"], c))
                for c in [*member_columns, "province_code"]
            )
            for row in session.execute(
                select(Member, *family.values())
                .join(Household, Household.id == Member.household_id)
                .where(Household.status == "approved", Member.status == "active")
            ).mappings()
        )
    assert households == expected_households
    assert {h[household_columns.index("kk_number")] for h in households} == {kk(1), kk(2), kk(5)}
    assert len({h[household_columns.index("district_code")] for h in households}) == 2
    assert members == expected_members
    assert len(members) == 8
    assert {m[member_columns.index("status")] for m in members} == {"active"}


def as_stored(value: Any) -> Any:
    """A database value as the release's Parquet holds it (timestamps in UTC, without zone)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def file_rows(folder: Path, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every file of one table, in file order, by file."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT parse_path(filename)[-2], * EXCLUDE (filename, file_row_number) "
            "FROM read_parquet($p, filename = true, file_row_number = true, "
            "hive_partitioning = false) ORDER BY filename, file_row_number",
            {"p": str(folder / table / "*" / "*.parquet")},
        ).fetchall()
    by_file: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_file.setdefault(row[0], []).append(row[1:])
    return by_file


def test_a_release_is_the_same_whether_read_whole_or_in_slices(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large registry is read a slice of families at a time (bounded memory): the release
    holds the same rows, in id order within each file, and the same registry released twice
    gives byte-identical files."""
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    whole = release(engine, releases, label="whole")
    again = release(engine, releases, label="again")
    with session_scope(engine) as session:
        ids = sorted(session.execute(select(Household.id)).scalars())
        assert export._bounds(session) == [(None, None)]
        # Slices of at most `size` families, covering every family: cut by id arithmetic
        # (dense ids) and by counting the families per bucket of ids (sparse ids).
        for sparse, size in itertools.product((export.SPARSE, 0), (3, 2, 1)):
            monkeypatch.setattr(export, "SLICE", size)
            monkeypatch.setattr(export, "SPARSE", sparse)
            bounds = export._bounds(session)
            in_slices = [
                [i for i in ids if (lo is None or i >= lo) and (hi is None or i < hi)]
                for lo, hi in bounds
            ]
            assert sorted(i for part in in_slices for i in part) == ids
            assert all(len(part) <= size for part in in_slices), (sparse, size)
            assert len(bounds) == -(-(ids[-1] - ids[0] + 1) // size), (sparse, size)
        monkeypatch.setattr(export, "SPARSE", 2)
    assert len(ids) == 5  # now one family per slice
    sliced = release(engine, releases, label="sliced")

    def hashes(result: ReleaseResult) -> dict[str, str]:
        manifest = json.loads(Path(result.manifest).read_text())
        return {f["path"]: f["sha256"] for f in manifest["files"]}

    assert hashes(whole) == hashes(again)
    assert (sliced.households, sliced.members) == (whole.households, whole.members) == (3, 8)
    for table in ("households", "members"):
        rows = file_rows(Path(whole.path), table)
        assert file_rows(Path(sliced.path), table) == rows
        for file, in_file in rows.items():
            ids = [r[0] for r in in_file]
            assert ids == sorted(ids), f"{table}/{file} is not in id order"
    # The deceased member of family 1 and the families that are not approved stay out.
    member_kks = {r[2] for f in file_rows(Path(sliced.path), "members").values() for r in f}
    assert member_kks == {kk(1), kk(2), kk(5)}


def test_manifest_describes_the_release(engine: Engine, tmp_path: Path) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    with session_scope(engine) as session:
        head_before = audit.head(session)
        audit_length_before = audit.length(session)
        registry_id_now = registry_id(session)
    result = release(engine, releases)
    folder = releases / LABEL
    body = (folder / "manifest.json").read_bytes()
    manifest = json.loads(body)
    assert manifest["label"] == LABEL
    assert manifest["decree"] == "SK Mensos 1/HUK/2026"
    assert manifest["created_by"] == "determiner"
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    assert (manifest["households"], manifest["members"]) == (3, 8)
    assert manifest["by_province"] == {"31": 2, "32": 1}
    assert manifest["audit_head"] == head_before
    assert set(manifest["schema"]) == {"households", "members"}
    # Every file on disk is listed with its true hash, size and row count, and nothing else is.
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*.parquet")}
    assert {f["path"] for f in manifest["files"]} == on_disk
    assert len(on_disk) == 4
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert sum(f["rows"] for f in manifest["files"]) == 3 + 8
    assert {p.name for p in folder.iterdir()} == {
        "households",
        "members",
        "manifest.json",
        "manifest.sig",
    }
    # Anchored: the chain's length and head when the release was made, and whose it is.
    assert manifest["audit_events"] == audit_length_before
    assert manifest["registry_id"] == registry_id_now
    # Signed with the installation's key: anyone with the public key can check it.
    signed = json.loads((folder / "manifest.sig").read_text())
    assert signed["public_key"] == keyring().current.public_hex()
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signed["public_key"]))
    public.verify(bytes.fromhex(signed["signature"]), body)
    # The database records the release and the manifest's hash; the audit log names it.
    with session_scope(engine) as session:
        row = session.execute(select(Release).where(Release.label == LABEL)).scalar_one()
        assert (row.households, row.members, row.created_by) == (3, 8, "determiner")
        assert row.manifest == manifest
        assert row.manifest_sha256 == hashlib.sha256(body).hexdigest()
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "release.create")
        ).scalar_one()
        assert (event.actor, event.entity_id) == ("determiner", LABEL)
        assert event.diff == {
            "households": 3,
            "members": 8,
            "manifest_sha256": row.manifest_sha256,
        }
        assert event.prev_hash == head_before
        assert audit.verify(session).ok
    assert result.households == manifest["households"]


def test_an_untouched_release_verifies(engine: Engine, tmp_path: Path) -> None:
    registry(engine, tmp_path)
    release(engine, tmp_path / "releases")
    report = check(engine, tmp_path / "releases")
    assert report.as_dict() == {"release": LABEL, "ok": True, "files": 4, "problems": []}


def _first_parquet(folder: Path) -> Path:
    return sorted(folder.rglob("*.parquet"))[0]


def _flip_a_byte(folder: Path) -> str:
    path = _first_parquet(folder)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return f"{path.relative_to(folder)}: isi berubah (sha256 tidak cocok)"


def _delete_one(folder: Path) -> str:
    path = _first_parquet(folder)
    path.unlink()
    return f"{path.relative_to(folder)}: berkas hilang"


def _add_extra(folder: Path) -> str:
    extra = folder / "households" / "province_code=99" / "data_0.parquet"
    extra.parent.mkdir()
    extra.write_bytes(_first_parquet(folder).read_bytes())
    return f"{extra.relative_to(folder)}: berkas tambahan yang tidak ada di manifest"


UNSIGNED = "manifest.sig: tanda tangan tidak cocok dengan manifest.json"


def _edit_manifest(folder: Path) -> list[str]:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["households"] += 1
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return ["manifest.json berbeda dari yang dicatat saat rilis dibuat", UNSIGNED]


def _rewrite_file_and_its_manifest_entry(folder: Path) -> list[str]:
    """A careful forger: changes a file and writes its new hash into the manifest."""
    _flip_a_byte(folder)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    target = _first_parquet(folder)
    for entry in manifest["files"]:
        if entry["path"] == str(target.relative_to(folder)):
            entry["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return ["manifest.json berbeda dari yang dicatat saat rilis dibuat", UNSIGNED]


def _sign_with_another_key(folder: Path) -> list[str]:
    """A forger with a key of their own making, under the installation's key name."""
    forged = Key(keyring().current.id, b"x" * 32)
    body = (folder / "manifest.json").read_bytes()
    signed = {
        "algorithm": "ed25519",
        "key_id": forged.id,
        "public_key": forged.public_hex(),
        "signature": forged.signing_key().sign(body).hex(),
    }
    (folder / "manifest.sig").write_text(json.dumps(signed))
    return ["manifest.sig: kunci publik bukan milik instalasi ini"]


def _remove_the_signature(folder: Path) -> list[str]:
    (folder / "manifest.sig").unlink()
    return ["manifest.sig tidak ada: manifest tidak bertanda tangan"]


TAMPERINGS: list[Callable[[Path], str | list[str]]] = [
    _flip_a_byte,
    _delete_one,
    _add_extra,
    _edit_manifest,
    _rewrite_file_and_its_manifest_entry,
    _sign_with_another_key,
    _remove_the_signature,
]


def test_tampering_is_reported(engine: Engine, tmp_path: Path, subtests: pytest.Subtests) -> None:
    registry(engine, tmp_path)
    release(engine, tmp_path / "releases")
    for tamper in TAMPERINGS:
        with subtests.test(tamper=tamper.__name__):
            # Each tampering on its own copy of the release folder.
            releases = tmp_path / tamper.__name__
            shutil.copytree(tmp_path / "releases", releases)
            assert check(engine, releases).ok
            problem = tamper(releases / LABEL)
            report = check(engine, releases)
            assert not report.ok
            assert report.problems == (problem if isinstance(problem, list) else [problem])
    assert check(engine, tmp_path / "releases").ok


def test_a_missing_manifest_or_release_is_reported(engine: Engine, tmp_path: Path) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    release(engine, releases)
    (releases / LABEL / "manifest.json").unlink()
    report = check(engine, releases)
    assert not report.ok
    assert "manifest.json tidak ada" in report.problems[0]
    with pytest.raises(NotFound):
        check(engine, releases, "2027-Q1")


def test_a_label_cannot_be_reused(engine: Engine, tmp_path: Path) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    release(engine, releases)
    before = (releases / LABEL / "manifest.json").read_bytes()
    # Even after the registry changed, the label keeps what it froze.
    edit_directly(
        engine, "UPDATE household SET status = 'approved' WHERE kk_number = :k", {"k": kk(3)}
    )
    with pytest.raises(Conflict, match=LABEL):
        release(engine, releases)
    assert (releases / LABEL / "manifest.json").read_bytes() == before
    assert check(engine, releases).ok
    second = release(engine, releases, "2026-Q4b")
    assert second.households == 4
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Release)).scalar_one() == 2


def test_an_invalid_label_is_refused(
    engine: Engine, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    releases = tmp_path / "releases"
    for label in ["", "../escape", "a/b", "dua kata", ".tersembunyi", "-awal", "x" * 65, "rilis*"]:
        with subtests.test(label=label), pytest.raises(ValidationFailed, match="Label rilis"):
            release(engine, releases, label)
    assert not (tmp_path / "escape").exists()
    assert not releases.exists() or list(releases.iterdir()) == []
    assert release(engine, releases, "v1.0_final-2").release == "v1.0_final-2"


def _release_then_crash(engine: Engine, releases: Path) -> None:
    with session_scope(engine) as session:
        create_release(
            session, actor=user(session, "determiner"), label=LABEL, releases_dir=releases
        )
        raise RuntimeError("crash before commit")


def test_a_folder_left_by_a_crashed_attempt_is_never_overwritten(
    engine: Engine, tmp_path: Path
) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    # A crash after the files were written but before the transaction committed.
    with pytest.raises(RuntimeError, match="crash"):
        _release_then_crash(engine, releases)
    assert (releases / LABEL / "manifest.json").exists()
    (releases / LABEL / "households" / "sisa.parquet").write_bytes(b"not parquet")
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Release)).scalar_one() == 0
        assert not session.execute(
            select(AuditEvent.id).where(AuditEvent.action == "release.create")
        ).first()
    # Whatever the database says, a folder that is there is not written into or removed: it
    # may be the only copy of something. The operator looks, and moves it away.
    with pytest.raises(Conflict, match=f"rilis {LABEL}: ada di folder data tetapi tidak tercatat"):
        release(engine, releases)
    assert (releases / LABEL / "households" / "sisa.parquet").exists()
    shutil.rmtree(releases / LABEL)
    result = release(engine, releases)
    assert result.households == 3
    assert check(engine, releases).ok
    assert [p.name for p in releases.iterdir()] == [LABEL]


def test_a_staging_folder_of_this_process_is_cleared(engine: Engine, tmp_path: Path) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    staging = releases / f".staging-{LABEL}-{os.getpid()}"
    staging.mkdir(parents=True)
    (staging / "half.parquet").write_bytes(b"half written")
    release(engine, releases)
    assert not staging.exists()
    assert check(engine, releases).ok


def test_a_release_under_way_in_another_process_is_not_disturbed(
    engine: Engine, tmp_path: Path
) -> None:
    registry(engine, tmp_path)
    releases = tmp_path / "releases"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        staging = releases / f".staging-{LABEL}-{other.pid}"
        staging.mkdir(parents=True)
        (staging / "half.parquet").write_bytes(b"being written")
        with pytest.raises(Conflict, match=f"sedang dibuat oleh proses {other.pid}"):
            release(engine, releases)
        assert (staging / "half.parquet").read_bytes() == b"being written"
    finally:
        other.kill()
        other.wait()
    # Once that process is gone, its folder is a leftover, cleared by the next attempt.
    assert release(engine, releases).households == 3
    assert not staging.exists()


def test_only_a_determiner_may_release(
    engine: Engine, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    releases = tmp_path / "releases"
    for username in ["operator", "verifier", "admin", "auditor"]:
        with subtests.test(username=username), pytest.raises(PermissionDenied, match="release"):
            release(engine, releases, actor=username)
    # A release freezes every province: a determiner of one province may not make it.
    add_user(engine, "determiner_jabar", Role.DETERMINER, "32")
    with pytest.raises(PermissionDenied, match="hanya oleh pengguna nasional"):
        release(engine, releases, actor="determiner_jabar")
    assert not (releases / LABEL).exists()
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Release)).scalar_one() == 0


def test_an_empty_registry_gives_an_empty_release_that_verifies(
    engine: Engine, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    result = release(engine, releases)
    assert (result.households, result.members) == (0, 0)
    manifest = json.loads((releases / LABEL / "manifest.json").read_text())
    assert (manifest["files"], manifest["by_province"]) == ([], {})
    assert check(engine, releases).ok


def test_one_reader_gives_a_table_slice_by_slice(engine: Engine, tmp_path: Path) -> None:
    """One reader process serves every slice of a table, each an Arrow stream of its own: an
    empty slice between two others comes out empty, in its place. A slice whose query fails
    after a good one stops the process and names the database's error."""
    registry(engine, tmp_path)
    with session_scope(engine) as session:
        ids = sorted(session.execute(select(Household.id)).scalars())
    every = export.Query("household", export.HOUSEHOLD_COLUMNS, "1 = 1", "id")
    slices = [
        replace(every, high=ids[2]),
        replace(every, low=ids[2], high=ids[2]),
        replace(every, low=ids[2]),
    ]
    reader = export.TableReader(engine.url, "household", export.HOUSEHOLD_COLUMNS)
    reader.request(slices)
    got = [sorted(reader.next().column("id").to_pylist()) for _ in slices]  # in no set order
    assert got == [ids[:2], [], ids[2:]]
    assert not reader.running()
    reader.stop()
    broken = export.TableReader(engine.url, "household", export.HOUSEHOLD_COLUMNS)
    broken.request([every, replace(every, table="no_such_table")])
    assert sorted(broken.next().column("id").to_pylist()) == ids
    with pytest.raises(RuntimeError, match="no_such_table"):
        broken.next()
    assert not broken.running()


def test_leaving_the_registry_early_stops_its_readers(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release abandoned after its first slice (an error while writing it, Ctrl-C) stops
    both reader processes and their threads; so does a failure to start the second reader."""
    registry(engine, tmp_path)
    monkeypatch.setattr(export, "SLICE", 1)
    started: list[export.TableReader] = []

    class Recorded(export.TableReader):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            started.append(self)

    monkeypatch.setattr(export, "TableReader", Recorded)
    with session_scope(engine) as session, export.approved_registry(session) as slices:
        assert next(slices).households().num_rows == 1
    assert len(started) == 2 and not any(reader.running() for reader in started)
    assert not [t for t in threading.enumerate() if t.name.startswith("read-")]

    class SecondFails(Recorded):
        def __init__(self, *args: Any) -> None:
            if started:
                raise OSError("simulated: no second process")
            super().__init__(*args)

    started.clear()
    monkeypatch.setattr(export, "TableReader", SecondFails)
    with (
        session_scope(engine) as session,
        pytest.raises(OSError, match="simulated"),
        export.approved_registry(session),
    ):
        pass
    assert len(started) == 1 and not started[0].running()


def test_a_reader_that_fails_says_why(tmp_path: Path) -> None:
    """The child process reading a table reports the database's own error, not a broken
    Arrow stream, and is not left behind."""
    empty_database = make_url(f"sqlite:///{tmp_path / 'empty.db'}")
    query = export.Query("household", export.HOUSEHOLD_COLUMNS, "status = 'approved'", "id")
    reader = export.TableReader(empty_database, "household", export.HOUSEHOLD_COLUMNS)
    reader.request([query, query])
    with pytest.raises(RuntimeError, match="no such table: household"):
        reader.next()
    assert not reader.running()


def test_packed_codes_split_back_into_their_columns() -> None:
    """Codes travel from the database joined into one text per row and are split back once per
    distinct combination: each comes out as its own dictionary-encoded column, values in row
    order."""
    packed = pa.array(["L|anak", "P|kepala_keluarga", "L|anak", "P|anak", "L|cucu"])
    columns = arrow_reader._unpack(packed, ["sex", "relationship"], "|")
    assert columns["sex"].to_pylist() == ["L", "P", "L", "P", "L"]
    assert columns["relationship"].to_pylist() == [
        "anak",
        "kepala_keluarga",
        "anak",
        "anak",
        "cucu",
    ]
    assert columns["relationship"].dictionary.to_pylist() == ["anak", "kepala_keluarga", "cucu"]


def test_packed_columns_can_never_hold_the_separator() -> None:
    """A pack joins NOT NULL columns whose every value is a code, a status or a region code (a
    family's village is a key of the region table, its other region codes prefixes of it): none
    may hold the separator (else the split would refuse the release)."""
    tables = {"household": Household.__table__, "member": Member.__table__}
    codes = {
        **vocab.HOUSEHOLD_ENUMS,
        **vocab.MEMBER_ENUMS,
        "status": (*vocab.HOUSEHOLD_STATUS, *vocab.MEMBER_STATUS),
    }
    for table, packs in export.PACKS.items():
        for column in (c for pack in packs for c in pack):
            assert not tables[table].c[column].nullable, f"{table}.{column}"
            assert not any(export.SEPARATOR in code for code in codes.get(column, ()))
    assert not any(export.SEPARATOR in region.code for region in catalog.all_regions())


def test_slices_are_cut_where_they_must() -> None:
    """Dense ids: ranges `size` ids wide, the last one open (ids up to 2**40 stay exact).
    Sparse ids: neighbouring buckets of families joined while they fit."""
    size = export.SLICE
    assert export.edges(7, 7, size) == []
    assert export.edges(1, size, size) == []
    assert export.edges(1, size + 1, size) == [size + 1]
    assert export.edges(1, 2 * size, size) == [size + 1]
    assert export.edges(1, 2 * size + 1, size) == [size + 1, 2 * size + 1]
    assert export.edges(2**40 - 5, 2**40, 3) == [2**40 - 2]
    buckets = [(0, 3), (4, 2), (8, 1), (12, 3), (1 << 30, 4)]
    assert export.joined(buckets, 4) == [4, 12, 1 << 30]
    assert export.joined(buckets, 100) == []
    assert export.joined([], 4) == []


def test_a_reader_asked_for_nothing_does_not_wait_forever(tmp_path: Path) -> None:
    """Reading before any slice was requested (or after the last) fails at once: the child
    would be waiting for its request and the parent for the child's rows."""
    url = make_url(f"sqlite:///{tmp_path / 'empty.db'}")
    reader = export.TableReader(url, "household", export.HOUSEHOLD_COLUMNS)
    try:
        with pytest.raises(RuntimeError, match="no slice of household left"):
            reader.next()
        other = export.Query("member", export.MEMBER_OWN_COLUMNS, "1 = 1", "household_id")
        with pytest.raises(ValueError, match="reader's columns"):
            reader.request([other])
    finally:
        reader.stop()
    assert not reader.running()


def test_a_null_code_in_a_pack_stops_the_release() -> None:
    """A NULL makes the whole packed text NULL, which would blank every code of the row:
    refused instead (the columns packed are NOT NULL, so this is a broken registry)."""
    with pytest.raises(ValueError, match="NULL"):
        arrow_reader._unpack(pa.array(["L|anak", None]), ["sex", "relationship"], "|")
    with pytest.raises(ValueError, match=re.escape("'P|anak|x' does not split")):
        arrow_reader._unpack(pa.array(["L|anak", "P|anak|x"]), ["sex", "relationship"], "|")

"""Change requests on the web, on SQLite and PostgreSQL: what a request proposes as labelled
fields (masked for a reader not entitled to identities), the warning on a request whose family
changed since it was proposed, and the queue's refusals carried as codes, never as text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from conftest import user
from factories import family, member, write_batch
from helpers import run_import
from lumbung.db import session_scope
from lumbung.errors import Conflict
from lumbung.identity.masking import mask_name
from lumbung.registry import decisions, proposals, views, workflow
from web_helpers import client, csrf_of, give_passwords, make_app, sign_in

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> TestClient:
    give_passwords(engine, "operator", "verifier", "auditor")
    return client(make_app(engine, tmp_path / "data"))


@pytest.fixture
def kk_number(engine: Engine, tmp_path: Path) -> str:
    """One family in the operator's village, verified and determined (version 1)."""
    households, members = family(1)
    run_import(engine, write_batch(tmp_path / "batch", [households], members))
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "determiner"), decision="determine")
    return str(households["kk_number"])


def version_of(engine: Engine, kk: str) -> int:
    with session_scope(engine) as session:
        return views.family(session, user(session, "operator"), kk=kk).version


def propose(engine: Engine, kind: str, payload: dict[str, Any], kk: str, version: int) -> int:
    with session_scope(engine) as session:
        proposal = proposals.propose(
            session,
            actor=user(session, "operator"),
            kind=kind,
            payload=payload,
            kk_number=kk,
            base_version=version,
        )
        return proposal.request.id


def step(engine: Engine, username: str, name: str, request_id: int) -> None:
    with session_scope(engine) as session:
        acting = user(session, username)
        if name == "verify":
            workflow.verify(session, actor=acting, request_id=request_id)
        else:
            workflow.determine(session, actor=acting, request_id=request_id)


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</div>\n", html.index("</table>", start))]


def test_an_update_shows_each_field_labelled_beside_the_value_it_replaces(
    engine: Engine, web: TestClient, kk_number: str
) -> None:
    request_id = propose(
        engine,
        "update",
        {"changes": {"floor_material": "keramik", "has_car": "1"}},
        kk_number,
        version_of(engine, kk_number),
    )
    sign_in(web, "verifier")
    page = web.get(f"/usulan/{request_id}")
    assert page.status_code == 200
    proposed = section(page.text, "proposed")
    # The field's label, the value now and the value proposed, as a reader reads them.
    assert "<th>Sekarang</th><th>Diusulkan</th>" in proposed
    assert '<th scope="row">Jenis lantai</th><td>Semen</td><td>Keramik</td>' in proposed
    assert '<th scope="row">Memiliki mobil</th><td>Tidak</td><td>Ya</td>' in proposed
    assert "keramik" not in proposed and '"changes"' not in page.text  # no raw JSON
    assert "Gambir (31.71.01.1001)" in page.text  # the request's village by its name
    web.get("/bahasa/en?kembali=/")
    english = section(web.get(f"/usulan/{request_id}").text, "proposed")
    assert '<th scope="row">Floor material</th><td>Cement</td><td>Ceramic</td>' in english
    # Once determined, the value it replaced is the one before it.
    step(engine, "verifier", "verify", request_id)
    step(engine, "determiner", "determine", request_id)
    done = section(web.get(f"/usulan/{request_id}").text, "proposed")
    assert "<th>Before</th><th>Proposed</th>" in done
    assert '<th scope="row">Floor material</th><td>Cement</td><td>Ceramic</td>' in done


def test_a_member_update_is_shown_masked_to_a_reader_not_entitled(
    engine: Engine, web: TestClient, kk_number: str
) -> None:
    _, members = family(1)
    wife = str(members[1]["nik"])
    request_id = propose(
        engine,
        "update_member",
        {"nik": wife, "changes": {"name": "SITI AMINAH PUTRI", "pregnant": "1"}},
        kk_number,
        version_of(engine, kk_number),
    )
    sign_in(web, "verifier")
    full = section(web.get(f"/usulan/{request_id}").text, "proposed")
    assert f"<code>{wife}</code>" in full
    assert '<th scope="row">Nama</th><td>SITI AMINAH</td><td>SITI AMINAH PUTRI</td>' in full
    assert '<th scope="row">Sedang hamil</th><td>Tidak</td><td>Ya</td>' in full
    web.cookies.clear()
    sign_in(web, "auditor")
    page = web.get(f"/usulan/{request_id}")
    masked = section(page.text, "proposed")
    assert wife not in page.text and "SITI AMINAH" not in page.text
    assert wife[:4] + "*" * 12 in masked
    assert mask_name("SITI AMINAH PUTRI") in masked and mask_name("SITI AMINAH") in masked
    assert '<th scope="row">Sedang hamil</th><td>Tidak</td><td>Ya</td>' in masked
    assert "disamarkan" in page.text  # the page says why


def test_a_new_member_and_a_removal_are_shown_as_labelled_fields(
    engine: Engine, web: TestClient, kk_number: str
) -> None:
    _, members = family(1)
    child = str(members[2]["nik"])
    removal = propose(
        engine,
        "remove_member",
        {"nik": child, "status": "moved"},
        kk_number,
        version_of(engine, kk_number),
    )
    newborn = member(kk_number, date(2025, 6, 1), "P", "anak", 19, name="PUTRI")
    newborn |= {"education": "tidak_sekolah", "occupation": "tidak_bekerja"}
    addition = propose(
        engine, "add_member", {"member": newborn}, kk_number, version_of(engine, kk_number)
    )
    sign_in(web, "verifier")
    shown = section(web.get(f"/usulan/{removal}").text, "proposed")
    assert f'<th scope="row">NIK</th><td>{child}</td>' in shown
    assert '<th scope="row">Alasan keluar</th><td>pindah</td>' in shown
    assert "<th>Sekarang</th>" not in shown  # nothing to compare
    added = section(web.get(f"/usulan/{addition}").text, "proposed")
    assert "<h3>Anggota baru</h3>" in added
    assert '<th scope="row">Nama</th><td>PUTRI</td>' in added
    assert '<th scope="row">Hubungan dengan kepala keluarga</th><td>Anak</td>' in added
    assert '<th scope="row">Tanggal lahir</th><td>2025-06-01</td>' in added
    assert "kk_number" not in added and "Nomor KK" not in added


def test_a_request_on_a_family_changed_since_warns_on_its_page_and_in_the_queue(
    engine: Engine, web: TestClient, kk_number: str
) -> None:
    version = version_of(engine, kk_number)
    first, second = (
        propose(engine, "update", {"changes": {"toilet": toilet}}, kk_number, version)
        for toilet in ("umum", "bersama")
    )
    sign_in(web, "verifier")
    assert 'id="family-changed"' not in web.get(f"/usulan/{second}").text
    assert "keluarga berubah" not in web.get("/usulan").text
    step(engine, "verifier", "verify", first)
    step(engine, "determiner", "determine", first)
    # The service tells which open request the determination stranded, by the rule that
    # refuses it (workflow.family_changed_since).
    with session_scope(engine) as session:
        rows = views.requests(session, user(session, "verifier"), status="proposed").items
        assert [(r.id, r.family_changed) for r in rows] == [(second, True)]
        detail = views.request_detail(session, user(session, "verifier"), request_id=first)
        assert not detail.request.family_changed  # determined: it moved the version itself
    page = web.get(f"/usulan/{second}")
    warning = page.text[page.text.index('id="family-changed"') :]
    assert "berubah sejak usulan dibuat" in warning and "Tolak usulan ini" in warning
    assert f"versi {version}" in warning
    queue = web.get("/usulan")
    assert '<span class="tag changed">keluarga berubah</span>' in queue.text
    assert "1 usulan di halaman ini" in queue.text
    # Verifying it anyway: refused with the page's words (no command to type), nothing kept.
    refused = web.post(f"/usulan/{second}", data={"csrf": csrf_of(page.text), "decision": "accept"})
    assert refused.status_code == 422
    summary = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert "Keluarga berubah sejak usulan dibuat" in summary and "lumbung" not in summary
    # In bulk: the refusal comes back as a code the queue has words for.
    bulk = web.post(
        "/usulan/putuskan",
        data={"csrf": csrf_of(queue.text), "ids": str(second), "decision": "accept"},
    )
    location = bulk.headers["location"]
    assert f"gagal={second}%3Afamily_changed" in location and "selesai=0" in location
    listed = web.get(location)
    refusals = listed.text[listed.text.index('id="refused"') :]
    assert f'<a href="/usulan/{second}">#{second}</a>: Keluarga berubah' in refusals
    # Rejected, it is no longer flagged: the way out the warning names.
    rejected = web.post(
        f"/usulan/{second}",
        data={"csrf": csrf_of(page.text), "decision": "reject", "reason": "data berubah"},
    )
    assert rejected.status_code == 303
    assert 'id="family-changed"' not in web.get(f"/usulan/{second}").text


def test_the_queue_shows_no_text_from_its_link(web: TestClient, kk_number: str) -> None:
    sign_in(web, "verifier")
    crafted = web.get(
        "/usulan",
        params={"selesai": "Akun Anda diblokir", "gagal": "Hubungi 0812-000 untuk membuka"},
    )
    assert crafted.status_code == 200
    assert "Akun Anda diblokir" not in crafted.text and "0812-000" not in crafted.text
    assert 'id="refused"' not in crafted.text and 'class="ok"' not in crafted.text
    unknown = web.get("/usulan", params={"gagal": "5:hubungi_kami,6:"})
    assert 'id="refused"' not in unknown.text and "#5" not in unknown.text
    known = web.get("/usulan", params={"selesai": "2", "gagal": "5:not_found"})
    assert "2 usulan diputuskan." in known.text
    assert '<a href="/usulan/5">#5</a>: Usulan tidak ada di wilayah Anda.' in known.text


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from lumbung.cli import common
    from lumbung.config import get_settings

    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    for cached in common._engines.values():
        cached.dispose()
    common._engines.clear()


@pytest.mark.usefixtures("cli_env")
def test_the_command_line_names_the_command_the_page_does_not(
    engine: Engine, kk_number: str
) -> None:
    from lumbung.cli import app

    version = version_of(engine, kk_number)
    first, second = (
        propose(engine, "update", {"changes": {"toilet": toilet}}, kk_number, version)
        for toilet in ("umum", "bersama")
    )
    step(engine, "verifier", "verify", first)
    step(engine, "determiner", "determine", first)
    with session_scope(engine) as session, pytest.raises(Conflict) as refused:
        workflow.verify(session, actor=user(session, "verifier"), request_id=second)
    assert refused.value.cause == "family_changed"
    assert "lumbung" not in refused.value.message
    said = CliRunner().invoke(app, ["request", "verify", str(second), "--as", "verifier"])
    assert said.exit_code == 1
    text = " ".join(said.output.split())
    assert "berubah sejak usulan dibuat" in text
    assert f"`lumbung request reject {second} --reason …`" in text
    shown = CliRunner().invoke(app, ["request", "show", str(second), "--as", "verifier"])
    assert "Keluarga ini berubah sejak usulan dibuat" in " ".join(shown.output.split())

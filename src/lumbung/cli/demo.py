"""`lumbung demo`: the registry's whole path on 10,000 synthetic families, start to finish."""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer

from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.cli.common import (
    JsonOption,
    console,
    emit,
    engine,
    handled,
    out,
    settings,
    table,
    unit_of_work,
)
from lumbung.db import DbSession
from lumbung.errors import LumbungError
from lumbung.numbers import grouped

DEMO_PROGRAMS = ("PKH", "SEMBAKO")
DEMO_USERS = (
    ("admin", "Admin Pusdatin", Role.ADMIN, None),
    ("verifikator", "Verifikator (nasional, untuk demo)", Role.VERIFIER, None),
    ("pusdatin", "Penetap Pusdatin", Role.DETERMINER, None),
    ("penyetuju", "Penyetuju siklus (empat mata)", Role.DETERMINER, None),
)


@handled
def demo_command(
    households: int = typer.Option(10_000, "--households"),
    seed: int = typer.Option(2026, "--seed"),
    noise: float = typer.Option(0.02, "--noise"),
    as_json: bool = JsonOption,
    serve: bool = typer.Option(
        False,
        "--serve/--no-serve",
        help="Then create one web account per role and serve the pages on 127.0.0.1 "
        "(`make demo` does; CTRL-C stops).",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Synthetic registry → import → verify → determine → release → PMT → cycles (PKH left a
    draft to approve) → delivery: SEMBAKO by bank, BLT BBM by PT Pos, PBI-JKN to BPJS; with
    --serve, the web application with one account per role."""
    from lokal.rupiah import format_rupiah

    # The whole pipeline's modules, loaded for this command only.
    from lumbung import migrate
    from lumbung.audit import integrity
    from lumbung.auth.service import create_user, get_user, user_exists
    from lumbung.cycles.service import run_cycle
    from lumbung.regions.service import load_regions
    from lumbung.registry import decisions
    from lumbung.registry.import_run import ImportRequest
    from lumbung.registry.importer import import_batch
    from lumbung.releases.service import create_release, verify_release
    from lumbung.synth import generate
    from lumbung.targeting.pmt import default_model_path, load_model
    from lumbung.targeting.service import score_release

    s = settings()
    with console.status("skema database"):
        migrate.upgrade(engine())
    with unit_of_work() as session:
        integrity.ensure_key(session, s.key_file)
    with unit_of_work() as session, console.status("wilayah Kemendagri"):
        regions = load_regions(session, actor="demo")
        for username, name, role, region in DEMO_USERS:
            if not user_exists(session, username=username):
                admin = None if username == "admin" else get_user(session, username="admin")
                create_user(
                    session,
                    actor=admin,
                    username=username,
                    full_name=name,
                    role=role,
                    region_code=region,
                )
    batch_dir = s.data_dir / "demo-batch"
    with console.status(f"membuat {grouped(households)} keluarga sintetis"):
        synth = generate(households=households, seed=seed, out_dir=batch_dir, noise=noise)
    with unit_of_work() as session, console.status("impor dan pemeriksaan"):
        summary = import_batch(
            session,
            actor=get_user(session, username="admin"),
            request=ImportRequest(
                paths=[batch_dir / "households.csv", batch_dir / "members.csv"],
                rejects_dir=s.rejects_dir,
            ),
        )
    with unit_of_work() as session:
        verified = decisions.decide(
            session, actor=get_user(session, username="verifikator"), decision="verify"
        )
    with unit_of_work() as session:
        determined = decisions.decide(
            session, actor=get_user(session, username="pusdatin"), decision="determine"
        )
    label = "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    with unit_of_work() as session, console.status("rilis"):
        release = create_release(
            session,
            actor=get_user(session, username="pusdatin"),
            label=label,
            decree="SK demo (data sintetis)",
            releases_dir=s.releases_dir,
        )
    with unit_of_work() as session, console.status("skor PMT dan desil"):
        scoring = score_release(
            session,
            actor=get_user(session, username="pusdatin"),
            release_label=label,
            model=load_model(default_model_path()),
            data_dir=s.data_dir,
        )
    cycles = []
    for program in DEMO_PROGRAMS:
        with unit_of_work() as session, console.status(f"siklus {program}"):
            cycles.append(
                run_cycle(
                    session,
                    actor=get_user(session, username="pusdatin"),
                    program=program,
                    release_label=label,
                    label=f"{program}-{label}",
                    data_dir=s.data_dir,
                )
            )
    from lumbung.cli.demo_delivery import deliver

    delivered = deliver(s, release=label, sembako=f"SEMBAKO-{label}")
    with unit_of_work() as session:
        check = verify_release(session, label=label, releases_dir=s.releases_dir)
        chain = integrity.verify(session, data_dir=s.data_dir)
        from lumbung.registry import views

        counted = views.stats(session, get_user(session, username="admin"))
        approved = counted.households.get("approved", 0)
    rows = [
        ["wilayah", f"{regions['provinces']} provinsi, {grouped(regions['villages'])} desa"],
        [
            "sintetis",
            f"{grouped(synth.households)} keluarga, {grouped(synth.members)} anggota, "
            f"{synth.noise_rows} baris bergalat",
        ],
        [
            "impor",
            f"{grouped(summary.households_accepted)} keluarga / "
            f"{grouped(summary.members_accepted)} anggota diterima; "
            f"{grouped(summary.households_rejected)} / {grouped(summary.members_rejected)} ditolak",
        ],
        ["verifikasi", f"{grouped(verified.households)} keluarga"],
        [
            "penetapan",
            f"{grouped(determined.households)} keluarga (registry: {grouped(approved)} ditetapkan)",
        ],
        [
            "rilis",
            f"{release.release}: {grouped(release.households)} keluarga, "
            f"{grouped(release.members)} anggota; verifikasi {'OK' if check.ok else 'GAGAL'}",
        ],
        [
            "PMT",
            f"{grouped(scoring.households)} keluarga diberi skor ({scoring.model}), "
            f"desil per {scoring.regencies} kab/kota",
        ],
        *[
            [
                f"siklus {c.program}",
                f"{grouped(c.beneficiaries)} penerima, total {format_rupiah(c.total_idr)} "
                f"({c.cycle}, {'disetujui' if c.program == 'SEMBAKO' else 'draf'})",
            ]
            for c in cycles
        ],
        *delivered.rows,
        ["audit", f"{chain.events} peristiwa, rantai {'utuh' if chain.ok else 'RUSAK'}"],
        ["berkas tolakan", summary.reject_file or "-"],
        ["folder rilis", str(Path(release.path))],
    ]
    payload = {
        "regions": {k: regions[k] for k in ("provinces", "regencies", "districts", "villages")},
        "synth": {
            "households": synth.households,
            "members": synth.members,
            "noise_rows": synth.noise_rows,
        },
        "import": {k: v for k, v in summary.as_dict().items() if k not in ("errors", "warnings")},
        "verified": verified.households,
        "determined": determined.households,
        "release": {**release.as_dict(), "verified": check.ok},
        "pmt": scoring.as_dict(),
        "cycles": [c.as_dict() for c in cycles],
        "delivery": delivered.payload,
        "audit": chain.as_dict(),
    }
    emit(as_json, payload, lambda: out.print(table("Demo Lumbung", ["tahap", "hasil"], rows)))
    if not (check.ok and chain.ok):
        raise typer.Exit(1)
    if serve:
        _serve(batch_dir / "households.csv", port)


def _serve(households_csv: Path, port: int) -> None:
    """One account per role with a fresh random password (printed), then the server."""
    with unit_of_work() as session:
        accounts = demo_accounts(session, households_csv=households_csv)
    out.print(
        table(
            "Akun demo (kata sandi acak, berlaku untuk demo ini)",
            ["pengguna", "peran", "wilayah", "kata sandi"],
            [[a.username, a.role, a.region or "nasional", a.password] for a in accounts],
        )
    )
    village = next(a.region for a in accounts if a.username == "operator-desa")
    if village is not None:
        # A batch the village operator may upload (families of their own village), with a
        # few realistic errors for the rejected rows' table.
        from lumbung.synth import generate

        batch = households_csv.parent.parent / "operator-batch"
        generate(households=8, seed=7, out_dir=batch, noise=0.3, region=village)
        out.print(
            f"Batch untuk diunggah operator-desa (desa {village}, dengan beberapa galat): "
            f"{batch}/households.csv dan {batch}/members.csv"
        )
    out.print(
        f"Buka http://127.0.0.1:{port}/ di peramban. Penetap dan admin memasang aplikasi "
        "autentikator (TOTP) saat masuk pertama: pindai kode QR yang ditampilkan. "
        "CTRL-C menghentikan server."
    )
    from lumbung.cli.serve import serve_command

    serve_command(
        host="127.0.0.1",
        port=port,
        workers=1,
        worker=True,
        access_log=True,
        allow_remote=False,
        forwarded_allow_ips="127.0.0.1",
    )


# The web accounts `--serve` makes: one per role. username, full name, role, where (a village
# with families, the regency of that village, or national).
WEB_ACCOUNTS = (
    ("operator-desa", "Operator desa (demo)", Role.OPERATOR, "village"),
    ("verifikator-kab", "Verifikator Dinas Sosial kab/kota (demo)", Role.VERIFIER, "regency"),
    ("pusdatin", "Penetap Pusdatin", Role.DETERMINER, None),
    ("penyetuju", "Penyetuju siklus (empat mata)", Role.DETERMINER, None),
    ("admin", "Admin Pusdatin", Role.ADMIN, None),
    ("auditor", "Auditor (demo)", Role.AUDITOR, None),
)
PASSWORD_BYTES = 12  # 16 URL-safe characters


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: str
    region: str | None
    password: str


def demo_village(session: DbSession, admin: User, households_csv: Path, tries: int = 200) -> str:
    """The village of the first family of the demo batch that is in the registry."""
    from lumbung.registry.proposals import family_in_scope

    with households_csv.open(newline="", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= tries:
                break
            try:
                return family_in_scope(session, admin, row["kk_number"]).village_code
            except LumbungError:
                continue  # a row the import rejected (the demo batch has noise)
    raise LookupError(f"no family of {households_csv} is in the registry")


def demo_accounts(session: DbSession, *, households_csv: Path) -> list[DemoAccount]:
    """Create the accounts that do not exist yet, and give every one a new password (the
    demo prints them: a password known only to the person at the terminal)."""
    from lumbung.auth import credentials
    from lumbung.auth.service import create_user, get_user

    admin = get_user(session, username="admin")
    village = demo_village(session, admin, households_csv)
    made: list[DemoAccount] = []
    for username, full_name, role, where in WEB_ACCOUNTS:
        region = {"village": village, "regency": village[:5], None: None}[where]
        try:
            user = get_user(session, username=username)
        except LumbungError:
            user = create_user(
                session,
                actor=admin,
                username=username,
                full_name=full_name,
                role=role,
                region_code=region,
            )
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        # The demo's own passwords are printed to the person who runs it; asking them to
        # choose another at once would only slow the first look.
        credentials.set_password(
            session, actor=admin, username=username, new=password, force_change=False
        )
        made.append(DemoAccount(username, role.value, user.region_code, password))
    session.flush()
    return made

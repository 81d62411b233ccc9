"""`lumbung delivery voucher …`: PT Pos vouchers — issue, letters, the public key and an
offline check, offline redemptions recorded from a counter's file, sealing, and counters' tokens."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    handled,
    out,
    parse_date,
    say,
    table,
    unit_of_work,
)
from lumbung.delivery.pos import counters  # its bounds are --expires-days's default
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

voucher_app = typer.Typer(
    help="PT Pos vouchers: issue, invitation letters, keys, offline redemptions, counters.",
    no_args_is_help=True,
)
counter_app = typer.Typer(
    help="Counters' tokens (lmc_…): a PT Pos counter redeems vouchers over the API.",
    no_args_is_help=True,
)
voucher_app.add_typer(counter_app, name="counter-token")


@voucher_app.command("issue")
@handled
def issue(
    batch_id: int = typer.Argument(..., help="An approved pos batch."),
    expires: str | None = typer.Option(
        None, "--expires", help="Last day a voucher is valid (YYYY-MM-DD; default: 60 days)."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Issue a voucher for every pending payment of an approved pos batch (again: only those
    still without one)."""
    from lumbung.delivery.pos import vouchers

    with unit_of_work() as session:
        result = vouchers.issue_vouchers(
            session,
            actor=acting_user(session, actor),
            batch_id=batch_id,
            expires_on=parse_date(expires, "--expires") if expires else None,
        )
    emit(
        as_json,
        result.as_dict(),
        lambda: say(
            f"Batch {batch_id} ({result.cycle}): {grouped(result.issued)} voucher senilai "
            f"Rp{grouped(result.total_idr)} diterbitkan ({grouped(result.home_delivery)} diantar "
            f"ke rumah), berlaku sampai {result.expires_on}, kunci {result.key_id}; "
            f"{grouped(result.already)} sudah ada, {grouped(result.without_recipient)} tanpa "
            "kepala keluarga aktif."
        ),
    )


@voucher_app.command("letters")
@handled
def write_letters(
    batch_id: int = typer.Argument(..., help="An approved pos batch with vouchers."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Folder to write into (a subfolder per batch)."
    ),
    place: str = typer.Option(..., "--place", help="Collection point printed on the letters."),
    collect_on: str = typer.Option(..., "--date", help="Collection day (YYYY-MM-DD)."),
    hours: str = typer.Option("08.00–15.00 WIB", "--hours", help="Opening hours printed."),
    stage: str | None = typer.Option(None, "--stage", help="Stage printed (default: the cycle)."),
    schedule: Path | None = typer.Option(
        None, "--schedule", help="CSV village_code,place,date: a point and day per village."
    ),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Processes writing PDFs."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Invitation letters (surat undangan) as PDF, one file per village, with the QR code."""
    from lumbung.delivery.pos import letters

    options = letters.LetterOptions(
        place=place,
        collect_on=parse_date(collect_on, "--date"),
        hours=hours,
        stage=stage,
        schedule=letters.read_schedule(schedule) if schedule else None,
    )
    with unit_of_work() as session:
        result = letters.write_letters(
            session,
            actor=acting_user(session, actor),
            batch_id=batch_id,
            out_dir=out_dir,
            options=options,
            workers=workers,
        )
    emit(
        as_json,
        result.as_dict(),
        lambda: say(
            f"{grouped(result.letters)} surat ({grouped(result.home_delivery)} diantar ke rumah) "
            f"dalam {len(result.files)} berkas PDF per desa/kelurahan: {result.folder}"
        ),
    )


@voucher_app.command("public-key")
@handled
def public_key(as_json: bool = JsonOption) -> None:
    """The public keys that verify voucher codes (give them to PT Pos's counters)."""
    from lumbung.delivery.pos import keys

    rows = [k.as_dict() for k in keys.public_list()]

    def human() -> None:
        for row in rows:
            say(
                f"{row['key_id']} ed25519 {row['public_key']}"
                + (" (kini)" if row["current"] else "")
            )

    emit(as_json, rows, human)


@voucher_app.command("verify")
@handled
def verify(
    code: str = typer.Argument(..., help="The QR code's text."),
    nik: str | None = typer.Option(None, "--nik", help="Check the code belongs to this NIK."),
    public: list[str] = typer.Option(
        [], "--public-key", help="kN=HEX (from `voucher public-key`); default: this server's."
    ),
    on: str | None = typer.Option(None, "--on", help="Check expiry on this day (default today)."),
    as_json: bool = JsonOption,
) -> None:
    """Check a voucher code offline, as a counter does: signature, key, expiry, NIK."""
    from lumbung.delivery.pos import keys, token
    from lumbung.delivery.pos.redemption import WIB

    if public:
        given: dict[int, bytes] = {}
        for item in public:
            key_id, _, hex_key = item.partition("=")
            try:
                given[token.key_number(key_id)] = bytes.fromhex(hex_key)
            except ValueError:
                raise ValidationFailed(f"--public-key {item!r}: bentuknya kN=HEX.") from None
        try:
            claim = token.verify(code, given)
        except token.TokenInvalid as invalid:
            raise ValidationFailed(f"Kode voucher tidak sah: {invalid}.") from None
    else:
        try:
            claim = keys.verify(code)
        except token.TokenInvalid as invalid:
            raise ValidationFailed(f"Kode voucher tidak sah: {invalid}.") from None
    day = parse_date(on, "--on") if on else datetime.now(WIB).date()  # valid through its day, WIB
    payload = {
        "voucher_id": claim.voucher_id,
        "key_id": claim.key_id,
        "amount_idr": claim.amount_idr,
        "expires_on": claim.expires_on.isoformat(),
        "expired": claim.expired(day),
        "nik_matches": claim.matches(nik) if nik else None,
    }
    emit(
        as_json,
        payload,
        lambda: say(
            f"Sah: voucher {claim.voucher_id}, Rp{grouped(claim.amount_idr)}, berlaku sampai "
            f"{claim.expires_on}{' (KEDALUWARSA)' if payload['expired'] else ''}"
            + (
                ""
                if nik is None
                else "; NIK cocok."
                if payload["nik_matches"]
                else "; NIK TIDAK cocok."
            )
        ),
    )
    if payload["expired"] or payload["nik_matches"] is False:
        raise typer.Exit(1)


@voucher_app.command("reconcile")
@handled
def reconcile(
    file: Path = typer.Argument(..., help="CSV token,nik,redeemed_at,counter or a JSON list."),
    partner: str = typer.Option("POS", "--partner", help="The partner whose counters paid."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Record redemptions a partner's counters made offline: each voucher paid once; a second
    redemption is reported as a conflict, never paid."""
    from lumbung.delivery.pos import offline

    rows = offline.parse(file.read_bytes())
    with unit_of_work() as session:
        result = offline.reconcile_as_user(
            session, actor=acting_user(session, actor), partner_code=partner, rows=rows
        )

    def human() -> None:
        say(
            f"{grouped(result.rows)} baris: {grouped(result.paid)} dibayar "
            f"(Rp{grouped(result.amount_idr)}), {grouped(result.duplicates)} sudah tercatat, "
            f"{grouped(result.conflicts)} konflik, {grouped(result.refused)} ditolak."
        )
        for outcome in result.outcomes:
            if outcome.outcome in ("conflict", "refused"):
                say(f"  baris {outcome.line}: {outcome.outcome}: {outcome.message}")

    emit(as_json, result.as_dict(), human)


@voucher_app.command("seal")
@handled
def seal(as_json: bool = JsonOption) -> None:
    """Seal online redemptions awaiting their seal into the audit chain now (the API does so
    about once a second while counters redeem; run this after the last, or from cron)."""
    from lumbung.delivery.pos import sealing

    with unit_of_work() as session:
        result = sealing.seal_awaiting(session)
    emit(
        as_json,
        result.as_dict(),
        lambda: say(
            f"{grouped(result.sealed)} penukaran disegel"
            + (
                f"; {result.refused} tidak sah dibiarkan (lihat cycle check)"
                if result.refused
                else ""
            )
            + "."
        ),
    )


@counter_app.command("create")
@handled
def counter_create(
    partner: str = typer.Option("POS", "--partner", help="The partner (channel pos)."),
    counter: str = typer.Option(..., "--counter", help="The counter's id (e.g. 10110-LOKET-1)."),
    name: str = typer.Option(..., "--name", help="What it is (the post office, the machine)."),
    region: str | None = typer.Option(
        None, "--region", help="Only vouchers of families in this region (e.g. 31.71)."
    ),
    expires_days: int = typer.Option(
        counters.DEFAULT_DAYS, "--expires-days", help=f"Days valid (1–{counters.MAX_DAYS})."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Issue a counter's token (admin): printed once, only its hash is kept."""
    with unit_of_work() as session:
        raw, view = counters.issue(
            session,
            actor=acting_user(session, actor),
            partner_code=partner,
            counter=counter,
            name=name,
            region_code=region,
            expires_days=expires_days,
        )
    payload = {**view.as_dict(), "token": raw}

    def human() -> None:
        say(
            f"Token loket {view.id} untuk {view.partner}/{view.counter} "
            f"({view.region_code or 'nasional'}), berlaku sampai {view.expires_at:%Y-%m-%d}. "
            "Simpan sekarang: token ini tidak ditampilkan lagi."
        )
        say(raw)

    emit(as_json, payload, human)


@counter_app.command("list")
@handled
def counter_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Counters' tokens (admins and auditors), never their secrets."""
    with unit_of_work() as session:
        rows = [
            v.as_dict() for v in counters.list_tokens(session, actor=acting_user(session, actor))
        ]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Token loket",
                ["id", "prefix", "loket", "wilayah", "berlaku sampai", "status"],
                [
                    [
                        r["id"],
                        r["prefix"],
                        f"{r['partner']}/{r['counter']}",
                        r["region_code"] or "nasional",
                        r["expires_at"][:10],
                        r["state"],
                    ]
                    for r in rows
                ],
            )
        ),
    )


@counter_app.command("revoke")
@handled
def counter_revoke(
    token_id: int = typer.Argument(..., help="The token's id (from `list`)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke a counter's token now (admin)."""
    with unit_of_work() as session:
        view = counters.revoke(
            session, actor=acting_user(session, actor), token_id=token_id, reason=reason
        )
    emit(as_json, view.as_dict(), lambda: say(f"Token loket {token_id} dicabut."))

"""`lumbung delivery …`: partners, payment batches (and, mounted here, files and vouchers)."""

from __future__ import annotations

from pathlib import Path

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    handled,
    out,
    table,
    unit_of_work,
)
from lumbung.numbers import grouped

delivery_app = typer.Typer(
    help="Delivery: payment partners, batches, files and partners' answers.",
    no_args_is_help=True,
)
partner_app = typer.Typer(help="Payment partners and the regions they serve.", no_args_is_help=True)
batch_app = typer.Typer(help="Payment batches of approved cycles.", no_args_is_help=True)
delivery_app.add_typer(partner_app, name="partner")
delivery_app.add_typer(batch_app, name="batch")

BATCH_STATES = {"draft": "draf", "approved": "disetujui", "cancelled": "dibatalkan"}


@partner_app.command("list")
@handled
def partner_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Every partner (banks, PT Pos, BPJS) and the regions it serves ("" = national)."""
    from lumbung.delivery.partners import list_partners

    with unit_of_work() as session:
        rows = list_partners(session, acting_user(session, actor))
    emit(
        as_json,
        [r.as_dict() for r in rows],
        lambda: out.print(
            table(
                "Mitra pembayaran",
                ["kode", "nama", "saluran", "format", "BIC", "wilayah"],
                [
                    [
                        r.code,
                        r.name,
                        r.channel,
                        r.file_format,
                        r.bic or "-",
                        ", ".join(code or "nasional" for code in r.regions) or "-",
                    ]
                    for r in rows
                ],
            )
        ),
    )


@partner_app.command("assign")
@handled
def partner_assign(
    partner: str = typer.Argument(help="Partner code, e.g. BSI."),
    channel: str = typer.Option(..., help="bank, pos or bpjs."),
    region: str = typer.Option("", help="Region code (province or regency); empty: national."),
    actor: str | None = ActorOption,
) -> None:
    """Let a partner serve a region (and everything under it) for a channel."""
    from lumbung.delivery.partners import assign_region

    with unit_of_work() as session:
        assign_region(
            session,
            actor=acting_user(session, actor),
            channel=channel,
            region_code=region,
            partner_code=partner,
        )
    out.print(f"Mitra {partner} melayani saluran {channel} di {region or 'seluruh Indonesia'}.")


def _batch_rows(rows: list[object]) -> None:
    from lumbung.delivery.batches import BatchRow

    shown = [r for r in rows if isinstance(r, BatchRow)]
    out.print(
        table(
            "Batch pembayaran",
            [
                "id",
                "siklus",
                "no",
                "saluran",
                "mitra",
                "jumlah",
                "total (Rp)",
                "status",
                "per status",
                "sha256",
            ],
            [
                [
                    str(r.id),
                    r.cycle,
                    str(r.number),
                    r.channel,
                    r.partner,
                    grouped(r.count),
                    grouped(r.total_idr),
                    BATCH_STATES[r.state],
                    ", ".join(f"{k} {grouped(v)}" for k, v in sorted(r.states.items())),
                    r.sha256[:12],
                ]
                for r in shown
            ],
        )
    )


@batch_app.command("create")
@handled
def batch_create(
    cycle: str = typer.Argument(help="An approved cycle's label."),
    retry_unchanged: bool = typer.Option(
        False, help="Also retry failed or returned bank payments whose account is unchanged."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Put every entitlement of an approved cycle not yet in flight into batches per partner."""
    from lumbung.delivery.batches import create_batches

    with unit_of_work() as session:
        plan = create_batches(
            session,
            actor=acting_user(session, actor),
            label=cycle,
            retry_unchanged=retry_unchanged,
        )

    def human() -> None:
        if plan.batches:
            _batch_rows(list(plan.batches))
        else:
            out.print(f"Tidak ada hak siklus {cycle} yang perlu dibatch.")
        if plan.without_account:
            out.print(
                f"{grouped(plan.without_account)} keluarga belum punya rekening: buka rekening "
                "kolektif dulu."
            )
        if plan.waiting_correction:
            out.print(
                f"{grouped(plan.waiting_correction)} pembayaran gagal/retur menunggu perbaikan "
                "rekening (--retry-unchanged untuk mengirim ulang ke rekening yang sama)."
            )

    emit(as_json, plan.as_dict(), human)


@batch_app.command("approve")
@handled
def batch_approve(
    batch_id: int, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """Approve a draft batch (by someone other than who made it); it is frozen."""
    from lumbung.delivery.batches import approve_batch

    with unit_of_work() as session:
        row = approve_batch(session, actor=acting_user(session, actor), batch_id=batch_id)
    emit(as_json, row.as_dict(), lambda: _batch_rows([row]))


@batch_app.command("cancel")
@handled
def batch_cancel(
    batch_id: int,
    reason: str = typer.Option(..., help="Why (kept in the ledger and the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Cancel a draft batch; its entitlements may go into another batch."""
    from lumbung.delivery.batches import cancel_batch

    with unit_of_work() as session:
        row = cancel_batch(
            session, actor=acting_user(session, actor), batch_id=batch_id, reason=reason
        )
    emit(as_json, row.as_dict(), lambda: _batch_rows([row]))


@batch_app.command("list")
@handled
def batch_list(
    cycle: str | None = typer.Option(None, help="Only this cycle's batches."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Batches, newest first, with their payments by state."""
    from lumbung.delivery.batches import list_batches

    with unit_of_work() as session:
        rows = list_batches(session, actor=acting_user(session, actor), label=cycle)
    emit(as_json, [r.as_dict() for r in rows], lambda: _batch_rows(list(rows)))


account_app = typer.Typer(
    help="Payee accounts: collective opening per bank, the bank's answer, a family's accounts.",
    no_args_is_help=True,
)
delivery_app.add_typer(account_app, name="account")


def _openings(rows: list[object]) -> None:
    from lumbung.delivery.accounts import OpeningRow

    out.print(
        table(
            "Pembukaan rekening kolektif",
            ["id", "siklus", "bank", "diminta", "dibuka", "gagal", "menunggu", "sha256"],
            [
                [
                    str(r.id),
                    r.cycle,
                    r.partner,
                    grouped(r.requested),
                    grouped(r.opened),
                    grouped(r.failed),
                    grouped(r.waiting),
                    r.sha256[:12],
                ]
                for r in rows
                if isinstance(r, OpeningRow)
            ],
        )
    )


@account_app.command("open")
@handled
def account_open(
    cycle: str = typer.Argument(help="An approved cycle paid by bank."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask each bank to open accounts for the cycle's families that have none (burekol)."""
    from lumbung.delivery.accounts import open_accounts

    with unit_of_work() as session:
        rows = open_accounts(session, actor=acting_user(session, actor), label=cycle)
    emit(
        as_json,
        [r.as_dict() for r in rows],
        lambda: (
            _openings(list(rows))
            if rows
            else out.print("Semua keluarga sudah punya rekening atau sedang diminta.")
        ),
    )


@account_app.command("file")
@handled
def account_file(
    opening: int,
    out_path: Path = typer.Option(..., "--out", help="Where to write the CSV for the bank."),
    actor: str | None = ActorOption,
) -> None:
    """Write an opening's CSV for its bank (checked against its sha256 first)."""
    from lumbung.delivery.accounts import opening_file

    with unit_of_work() as session:
        lines = opening_file(session, actor=acting_user(session, actor), opening_id=opening)
        partial = out_path.with_name(out_path.name + ".part")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            count = -1
            for line in lines:
                handle.write(line)
                count += 1
        partial.replace(out_path)
    out.print(f"{grouped(count)} keluarga ditulis ke {out_path}.")


@account_app.command("answer")
@handled
def account_answer(
    opening: int,
    file: Path = typer.Argument(
        help="The bank's answer: kk,nik,account_number,card_number,status,reason."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a bank's answer to an opening, row by row (the same file twice changes nothing)."""
    from lumbung.cli.common import error_line
    from lumbung.delivery.account_answers import record_answers

    with unit_of_work() as session:
        summary = record_answers(
            session, actor=acting_user(session, actor), opening_id=opening, path=file
        )

    def human() -> None:
        out.print(
            f"{grouped(summary.rows)} baris: {grouped(summary.opened)} rekening dibuka, "
            f"{grouped(summary.failed)} gagal, {grouped(summary.unchanged)} sudah tercatat, "
            f"{grouped(summary.rejected)} ditolak."
        )
        for problem in summary.problems[:50]:
            out.print(error_line(problem))

    emit(as_json, summary.as_dict(), human)


@account_app.command("list")
@handled
def account_list(
    cycle: str | None = typer.Option(None, help="Only this cycle's openings."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Collective openings, newest first, with what the banks answered."""
    from lumbung.delivery.accounts import list_openings

    with unit_of_work() as session:
        rows = list_openings(session, actor=acting_user(session, actor), label=cycle)
    emit(as_json, [r.as_dict() for r in rows], lambda: _openings(list(rows)))


@account_app.command("show")
@handled
def account_show(
    kk: str = typer.Option(..., help="The family's KK number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A family's accounts, the closed ones too, with their numbers masked."""
    from lumbung.delivery.accounts import family_accounts

    with unit_of_work() as session:
        rows = family_accounts(session, actor=acting_user(session, actor), kk=kk)
    emit(
        as_json,
        [r.as_dict() for r in rows],
        lambda: out.print(
            table(
                "Rekening keluarga",
                ["bank", "rekening", "kartu", "status", "dibuka", "ditutup", "asal"],
                [
                    [
                        r.bank,
                        r.account_number,
                        r.card_number or "-",
                        r.state,
                        r.opened_at[:10],
                        (r.closed_at or "-")[:10],
                        r.source,
                    ]
                    for r in rows
                ],
            )
        ),
    )


bpjs_app = typer.Typer(
    help="BPJS Kesehatan: the PBI-JKN list of a month, its contribution, the transfer.",
    no_args_is_help=True,
)
delivery_app.add_typer(bpjs_app, name="bpjs")


@bpjs_app.command("summary")
@handled
def bpjs_summary_command(
    batch: int, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """The month's persons and contribution, and who was added or removed since the month
    before (the program's previous approved cycle)."""
    from lumbung.delivery.bpjs import bpjs_summary

    with unit_of_work() as session:
        summary = bpjs_summary(session, actor=acting_user(session, actor), batch_id=batch)
    emit(
        as_json,
        summary.as_dict(),
        lambda: out.print(
            f"Siklus {summary.cycle}: {grouped(summary.persons)} orang × "
            f"Rp{grouped(summary.monthly_idr)} × {summary.months} bulan = "
            f"Rp{grouped(summary.total_idr)}; dibanding {summary.previous_cycle or '-'}: "
            f"+{grouped(summary.added)} / -{grouped(summary.removed)}."
        ),
    )


@bpjs_app.command("list")
@handled
def bpjs_list_command(
    batch: int,
    out_path: Path = typer.Option(..., "--out", help="Where to write the CSV for BPJS."),
    actor: str | None = ActorOption,
) -> None:
    """Write the month's list of the insured (an approved BPJS batch) as CSV."""
    from lumbung.delivery.bpjs import bpjs_list

    with unit_of_work() as session:
        lines = bpjs_list(session, actor=acting_user(session, actor), batch_id=batch)
        partial = out_path.with_name(out_path.name + ".part")
        count = -1
        with partial.open("w", encoding="utf-8", newline="") as handle:
            for line in lines:
                handle.write(line)
                count += 1
        partial.replace(out_path)
    out.print(f"{grouped(count)} orang ditulis ke {out_path}.")


@bpjs_app.command("settle")
@handled
def bpjs_settle_command(
    batch: int,
    reference: str = typer.Option(..., help="The transfer's reference."),
    on: str = typer.Option(..., "--date", help="The transfer's value date, YYYY-MM-DD."),
    actor: str | None = ActorOption,
) -> None:
    """BPJS confirmed the month's transfer: every pending payment of the batch is paid."""
    from lumbung.cli.common import parse_date
    from lumbung.delivery.bpjs import settle

    when = parse_date(on, "--date")
    with unit_of_work() as session:
        paid = settle(
            session,
            actor=acting_user(session, actor),
            batch_id=batch,
            reference=reference,
            value_date=when,
        )
    out.print(f"{grouped(paid)} pembayaran iuran dicatat dibayar (referensi {reference}).")


@delivery_app.command("payments")
@handled
def payments_command(
    kk: str = typer.Option(..., help="The family's KK number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Every attempt at paying a family, newest cycle first, with the partner's answer."""
    from lumbung.delivery.family import family_payments

    with unit_of_work() as session:
        rows = family_payments(session, actor=acting_user(session, actor), kk=kk)
    emit(
        as_json,
        [r.as_dict() for r in rows],
        lambda: out.print(
            table(
                f"Pembayaran keluarga {kk}",
                [
                    "siklus",
                    "id",
                    "batch",
                    "mitra",
                    "jumlah (Rp)",
                    "status",
                    "referensi",
                    "alasan",
                    "tanggal",
                ],
                [
                    [
                        r.cycle,
                        r.attempt_id,
                        str(r.batch_number),
                        r.partner,
                        grouped(r.amount_idr),
                        r.state,
                        r.reference or "-",
                        r.reason or "-",
                        r.value_date.isoformat() if r.value_date else "-",
                    ]
                    for r in rows
                ],
            )
        ),
    )


status_app = typer.Typer(
    help="Partners' answers: what was paid, failed, returned.", no_args_is_help=True
)
delivery_app.add_typer(status_app, name="status")


@status_app.command("import")
@handled
def status_import(
    file: Path = typer.Argument(help="A bank's pain.002 report or CSV statement."),
    partner: str | None = typer.Option(
        None, help="Refuse rows of another partner's batches (the file's sender)."
    ),
    limit: int = typer.Option(50, "--limit", help="Problems shown on screen (all with --json)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a partner's answers row by row; the same file twice changes nothing."""
    from lumbung.cli.common import error_line
    from lumbung.delivery.statuses import import_status_file

    with unit_of_work() as session:
        summary = import_status_file(
            session, actor=acting_user(session, actor), path=file, partner_code=partner
        )

    def human() -> None:
        recorded = ", ".join(f"{k} {grouped(v)}" for k, v in summary.recorded.items())
        out.print(
            f"{summary.file}: {grouped(summary.rows)} baris; dicatat: {recorded}; "
            f"{grouped(summary.unchanged)} sudah tercatat; {grouped(summary.rejected)} ditolak."
        )
        for problem in summary.problems[:limit]:
            out.print(error_line(problem), highlight=False)

    emit(as_json, summary.as_dict(), human)

"""Bank payment files: `lumbung delivery file …` (payment files out, status files read)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    error_line,
    handled,
    out,
    parse_date,
    say,
    unit_of_work,
)
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

payfile_app = typer.Typer(
    help="Bank payment files: pain.001 or CSV out, status files (pain.002, CSV) read.",
    no_args_is_help=True,
)


@payfile_app.command("write")
@handled
def payfile_write(
    batch_id: int = typer.Argument(..., help="An approved batch of a bank (`batch list`)."),
    out_path: Path = typer.Option(
        ..., "--out", help="The file to write, or a folder (then LUMBUNG-<batch>-<sha8>.xml/.csv)."
    ),
    on: str | None = typer.Option(
        None, "--date", help="The date the bank is asked to pay (YYYY-MM-DD; default today in WIB)."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Write an approved batch as its bank's file (pain.001.001.09, or CSV for a CSV bank)."""
    from lokal.rupiah import format_rupiah

    from lumbung.delivery.bank.service import write_payment_file

    execution_date = parse_date(on, "--date") if on else None
    with unit_of_work() as session:
        written = write_payment_file(
            session,
            actor=acting_user(session, actor),
            batch_id=batch_id,
            out=out_path,
            execution_date=execution_date,
        )

    def human() -> None:
        say(
            f"Batch {written.batch_id} ({written.cycle}, {written.partner}): "
            f"{grouped(written.count)} pembayaran senilai {format_rupiah(written.total_idr)} "
            f"ditulis sebagai {written.format} ke {written.path}"
        )
        say(
            f"sha256 {written.sha256}; MsgId {written.message_id}; tanggal bayar "
            f"{written.execution_date.isoformat()}"
        )

    emit(as_json, written.as_dict(), human)


@payfile_app.command("check")
@handled
def payfile_check(
    status_file: Path = typer.Argument(..., help="A bank's pain.002 report or CSV statement."),
    limit: int = typer.Option(50, "--limit", help="Problems shown on screen (all with --json)."),
    as_json: bool = JsonOption,
) -> None:
    """Read a bank's status file without recording it: its rows by status and every problem."""
    from lokal.rupiah import format_rupiah

    from lumbung.delivery.bank.status import read_status_file

    read = read_status_file(status_file)
    by_status: dict[str, int] = {}
    amount = 0
    for row in read.rows():
        by_status[row.status] = by_status.get(row.status, 0) + 1
        amount += row.amount_idr or 0
    payload = {**read.as_dict(), "statuses": by_status, "amount_idr": amount}

    def human() -> None:
        counts = ", ".join(f"{k} {grouped(v)}" for k, v in sorted(by_status.items())) or "-"
        say(
            f"{read.file} ({read.format}): {grouped(read.read)} baris terbaca ({counts}; "
            f"{format_rupiah(amount)}), {grouped(read.skipped)} belum final dilewati, "
            f"{grouped(len(read.problems))} bermasalah"
        )
        for problem in read.problems[:limit]:
            out.print(error_line(problem), highlight=False)
        if len(read.problems) > limit:
            say(f"… dan {grouped(len(read.problems) - limit)} lagi (--json: semuanya)")

    emit(as_json, payload, human)
    if read.problems:
        raise typer.Exit(1)


@payfile_app.command("simulate-answer")
@handled
def payfile_simulate_answer(
    payment_file: Path = typer.Argument(..., help="A payment file `delivery file write` wrote."),
    out_path: Path = typer.Option(..., "--out", help="Where the bank's answer goes."),
    kind: str = typer.Option(
        "pain.002.001.03", "--format", help="pain.002.001.03, pain.002.001.12 or csv."
    ),
    fail_every: int = typer.Option(
        0, "--fail-every", min=0, help="Every Nth transaction failed (AC04, closed account)."
    ),
    on: str | None = typer.Option(None, "--date", help="The answer's date (default today)."),
    as_json: bool = JsonOption,
) -> None:
    """Demo and tests only: answer a payment file as a bank would (no bank is reachable)."""
    from lumbung.delivery.bank import simulate

    when = datetime.now(UTC).replace(microsecond=0)
    if on:
        when = datetime.combine(parse_date(on, "--date"), when.timetz())
    answers = simulate.answers(payment_file, fail_every=fail_every)
    if kind == "csv":
        sha = simulate.write_statement(out_path, answers, value_date=when.date())
    elif kind in simulate.PAIN002_VERSIONS:
        sha = simulate.write_status_report(
            out_path,
            answers,
            original_message_id=simulate.message_id(payment_file),
            created=when,
            version=kind,
        )
    else:
        raise ValidationFailed(
            f"--format {kind}: pilihan {', '.join(simulate.PAIN002_VERSIONS)}, csv."
        )
    emit(
        as_json,
        {"file": str(out_path), "format": kind, "sha256": sha},
        lambda: say(f"Jawaban bank ({kind}) ditulis ke {out_path}; sha256 {sha}"),
    )

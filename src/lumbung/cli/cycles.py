"""`lumbung cycle …` and `lumbung explain`: entitlements per program and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    LimitOption,
    OffsetOption,
    acting_user,
    emit,
    handled,
    out,
    parse_date,
    settings,
    table,
    unit_of_work,
)
from lumbung.engine.names import EngineName
from lumbung.numbers import grouped

if TYPE_CHECKING:
    from lumbung.cycles.service import CycleResult

# The engines (Ibis, DuckDB, Spark) load inside the commands that compute, not for every command.

cycle_app = typer.Typer(help="Delivery cycles: entitlements per program.", no_args_is_help=True)


# A cycle's state and a component as people read them (the YAML's `label`).
STATES = {"draft": "draf", "approved": "disetujui"}


def state_word(state: str) -> str:
    return STATES.get(state, state)


def label_of(labels: dict[str, str], name: str) -> str:
    return labels.get(name) or name.replace("_", " ")


def shown_number(value: Any) -> str:
    """A feature's value for people: flags in words, measures to two decimals (4.33)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    if isinstance(value, int):
        return grouped(value)
    return str(value)


def _print_cycle(result: CycleResult) -> None:
    from lokal.rupiah import format_rupiah

    out.print(
        f"Siklus {result.cycle} ({result.program} versi {result.version}, rilis "
        f"{result.release}, {state_word(result.state)}): "
        f"{grouped(result.beneficiaries)} penerima, total {format_rupiah(result.total_idr)}",
        highlight=False,
    )
    out.print(
        f"Definisi sha256 {result.definition_sha256}; model PMT {result.model} "
        f"sha256 {result.model_sha256}",
        highlight=False,
    )
    out.print(
        table(
            "Komponen",
            ["komponen", "orang/unit", "jumlah"],
            [
                [
                    label_of(result.labels, name),
                    grouped(part["persons"]),
                    format_rupiah(part["amount_idr"]),
                ]
                for name, part in result.by_component.items()
            ],
        )
    )
    if result.enrollment:
        moved = result.enrollment
        out.print(
            f"Dibanding siklus disetujui sebelumnya: {grouped(moved.get('entered', 0))} masuk, "
            f"{grouped(moved.get('stayed', 0))} tetap, {grouped(moved.get('left', 0))} keluar."
        )


@cycle_app.command("run")
@handled
def cycle_run(
    program: str = typer.Option(
        ..., "--program", help="Shipped program code (PKH, SEMBAKO, …) or a definition file."
    ),
    release: str = typer.Option(..., "--release"),
    label: str = typer.Option(..., "--label", help="The cycle's label, e.g. PKH-2025-T1."),
    engine: EngineName = typer.Option(EngineName.DUCKDB, "--engine", help="duckdb or spark."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date ages are taken at (default: the release's date)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="PMT model NAME@VERSION (default: the release's latest scoring)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace the draft cycle of this label (refused without it)."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Compute every beneficiary's entitlement; a draft of the same label is replaced whole
    only with --replace."""
    from lumbung.cycles.service import run_cycle

    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = run_cycle(
            session,
            actor=user,
            program=program,
            release_label=release,
            label=label,
            data_dir=settings().data_dir,
            engine=engine,
            as_of=parse_date(as_of, "--as-of") if as_of else None,
            model=model,
            replace=replace,
        )
    emit(as_json, result.as_dict(), lambda: _print_cycle(result))


@cycle_app.command("approve")
@handled
def cycle_approve(label: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Approve a draft cycle: entitlements become final and enrollment moves on."""
    from lumbung.cycles.service import approve_cycle

    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = approve_cycle(session, actor=user, label=label, data_dir=settings().data_dir)
    emit(as_json, result.as_dict(), lambda: _print_cycle(result))


@cycle_app.command("list")
@handled
def cycle_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Every cycle: program code, version and definition hash, model, state, totals."""
    from lokal.rupiah import format_rupiah

    from lumbung.cycles.listing import list_cycles

    with unit_of_work() as session:
        rows = [c.as_dict() for c in list_cycles(session, acting_user(session, actor))]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Siklus",
                [
                    *["siklus", "program", "versi", "sha256", "model PMT"],
                    *["status", "penerima", "total"],
                ],
                [
                    [
                        r["cycle"],
                        r["program"],
                        r["version"],
                        r["definition_sha256"][:12],
                        r["model"],
                        state_word(r["state"]),
                        grouped(r["beneficiaries"]),
                        format_rupiah(r["total_idr"]),
                    ]
                    for r in rows
                ],
            )
        ),
    )


LEVEL_WORDS = {"province": "provinsi", "regency": "kabupaten/kota", "district": "kecamatan"}


@cycle_app.command("totals")
@handled
def cycle_totals_command(
    label: str,
    level: str = typer.Option("regency", "--level", help="province, regency or district."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A cycle's beneficiaries and amounts per province, regency or district (your region)."""
    from lokal.rupiah import format_rupiah

    from lumbung.cycles.listing import cycle_totals

    with unit_of_work() as session:
        totals = cycle_totals(session, acting_user(session, actor), label=label, level=level)
    emit(
        as_json,
        totals.as_dict(),
        lambda: out.print(
            table(
                f"Siklus {totals.cycle} ({totals.program}, {state_word(totals.state)}) per "
                f"{LEVEL_WORDS[totals.level]} ({totals.region or 'nasional'})",
                ["kode", "nama", "penerima", "jumlah"],
                [
                    [a.code, a.name or "—", grouped(a.beneficiaries), format_rupiah(a.total_idr)]
                    for a in totals.areas
                ],
            )
        ),
    )


@cycle_app.command("beneficiaries")
@handled
def cycle_beneficiaries(
    label: str,
    regency: str | None = typer.Option(None, "--regency", help="Only this regency, e.g. 31.71."),
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A cycle's beneficiaries with their amounts (your region only; NIKs masked)."""
    from lokal.rupiah import format_rupiah

    from lumbung.cycles.listing import list_beneficiaries

    with unit_of_work() as session:
        user = acting_user(session, actor)
        page = list_beneficiaries(
            session, actor=user, cycle_label=label, regency=regency, limit=limit, offset=offset
        )
    rows = page["beneficiaries"]

    def human() -> None:
        shown = f"{grouped(offset + 1)}–{grouped(offset + len(rows))}" if rows else "tidak ada"
        persons = any(r["nik"] for r in rows)  # a NIK column only for a program paying persons
        out.print(
            table(
                f"Penerima siklus {page['cycle']} ({page['program']}, "
                f"{state_word(page['state'])}): "
                f"{shown} dari {grouped(page['total'])}",
                ["KK", *(["NIK"] if persons else []), "kab/kota", "jumlah", "komponen"],
                [
                    [
                        r["kk_number"],
                        *([r["nik"] or ""] if persons else []),
                        r["regency_code"],
                        format_rupiah(r["amount_idr"]),
                        ", ".join(
                            f"{label_of(page['labels'], k)} ×{v['persons']}"
                            for k, v in r["components"].items()
                        ),
                    ]
                    for r in rows
                ],
            )
        )

    emit(as_json, page, human)


@handled
def explain_command(
    cycle: str = typer.Option(..., "--cycle"),
    kk: str = typer.Option(..., "--kk", help="The family's KK number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Why a family is or is not entitled in a cycle, clause by clause, and how much."""
    from lumbung.cycles.explain import explain

    with unit_of_work() as session:
        user = acting_user(session, actor)
        report = explain(
            session, actor=user, cycle_label=cycle, kk_number=kk, data_dir=settings().data_dir
        )
    emit(as_json, report, lambda: _print_explanation(report))


def _print_explanation(report: dict[str, Any]) -> None:
    from lokal.rupiah import format_rupiah

    verdict = {
        "entitled": "BERHAK",
        "not_eligible": "TIDAK BERHAK (syarat tidak terpenuhi)",
        "nothing_payable": "TIDAK BERHAK (memenuhi syarat, tetapi tidak ada komponen yang dibayar)",
        "outside_quota": "TIDAK BERHAK (memenuhi syarat, di luar kuota wilayah)",
    }[report["outcome"]]
    out.print(
        f"KK {report['kk_number']} · siklus {report['cycle']} ({report['program']}) · "
        f"kab/kota {report['regency_code']}: {verdict}, {format_rupiah(report['amount_idr'])}"
    )
    out.print(
        f"Skor PMT {report['score']:.4f} ({report['model']}) → desil {report['decile']} "
        f"(peringkat {grouped(report['rank_in_regency'])} dari "
        f"{grouped(report['regency_households'])} keluarga di kab/kota)"
    )
    terms = sorted(report["score_terms"].items(), key=lambda kv: -abs(kv[1]))
    features = report["features"]
    labels = report["component_labels"]
    out.print(
        table(
            "Fitur keluarga dan sumbangannya pada skor (terbesar dulu)",
            ["fitur", "nilai", "sumbangan"],
            [[k, shown_number(features.get(k)), f"{v:+.4f}"] for k, v in terms]
            + [
                [k, shown_number(v), ""]
                for k, v in features.items()
                if k not in report["score_terms"]
            ],
        )
    )
    out.print(
        table(
            "Syarat: " + report["eligibility"],
            ["klausa", "terpenuhi"],
            [[c["rule"], "ya" if c["value"] else "TIDAK"] for c in report["clauses"]],
        )
    )
    out.print(
        table(
            "Anggota",
            ["nama", "NIK", "umur", "memenuhi", "dihitung sebagai", "jumlah", "catatan"],
            [
                [
                    m["name"],
                    m["nik"],
                    m["age"],
                    ", ".join(label_of(labels, q) for q in m["qualifies_for"]) or "-",
                    ", ".join(label_of(labels, c) for c in m["counted_as"].split(", "))
                    if m["counted_as"]
                    else "-",
                    format_rupiah(m["amount_idr"]),
                    m["note"] or "",
                ]
                for m in report["members"]
            ],
        )
    )


@cycle_app.command("check")
@handled
def cycle_check(label: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Whether a cycle's money adds up: entitled = paid + failed + returned + pending +
    cancelled, with the payment ledger as the audit trail sealed it. Exit code 1 if not."""
    from lumbung.cli.common import emit_check
    from lumbung.delivery.ledger import check_cycle, labels

    with unit_of_work() as session:
        result = check_cycle(session, actor=acting_user(session, actor), label=label)
    words = labels(result.states)
    parts = ", ".join(
        f"{words[name]} {grouped(t.entitlements)} (Rp{grouped(t.amount_idr)})"
        for name, t in result.states.items()
    )
    good = (
        f"siklus {label}: hak {grouped(result.entitled.entitlements)} senilai "
        f"Rp{grouped(result.entitled.amount_idr)} = {parts}; belum dibatch "
        f"{grouped(result.unbatched.entitlements)}; {grouped(result.events)} peristiwa pembayaran "
        "cocok dengan jejak audit"
        + (
            f" ({grouped(result.awaiting_seal)} penukaran voucher menunggu segel kelompoknya)."
            if result.awaiting_seal
            else "."
        )
    )
    emit_check(
        as_json,
        result.as_dict(),
        ok=result.ok,
        good=good,
        bad=f"siklus {label}: {len(result.problems)} masalah",
        problems=result.problems,
    )

"""`lumbung simulate …`: policy scenarios before anyone decides (simulation/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
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
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

simulate_app = typer.Typer(
    help="Policy simulation: what changed programs would cost and who would gain or lose "
    "(nothing is decided or paid).",
    no_args_is_help=True,
)

NOTICE = "SIMULASI — bukan keputusan; tidak ada siklus, penetapan atau pembayaran."
MOVES = {"entered": "masuk", "left": "keluar", "gained": "naik", "lost": "turun"}


def _rp(amount: int) -> str:
    from lokal.rupiah import format_rupiah

    return format_rupiah(amount)


def _signed(amount: int) -> str:
    from lokal.rupiah import format_rupiah

    return ("+" if amount > 0 else "") + format_rupiah(amount) if amount else "0"


def _scenario(
    scenario_file: Path | None, program: str | None, change: list[str], baseline_cycle: str | None
) -> Any:
    from lumbung.simulation.scenario import (
        ProgramChange,
        Scenario,
        changes_from_options,
        read_scenario,
    )

    if scenario_file is not None:
        if program or change or baseline_cycle:
            raise ValidationFailed(
                "--scenario berisi semuanya; --program, --change dan --baseline-cycle "
                "hanya tanpa --scenario."
            )
        return read_scenario(scenario_file)
    if program is None:
        raise ValidationFailed("Beri --scenario BERKAS.yaml, atau --program KODE (dan --change).")
    changes = changes_from_options(change)
    title = f"{program.upper()}: " + (", ".join(change) if change else "tanpa perubahan")
    return Scenario(title[:200], (ProgramChange(program, changes, baseline_cycle),))


def print_simulation(result: dict[str, Any]) -> None:
    names: dict[str, str] = result.get("region_names", {})
    out.print(f"[bold]{NOTICE}[/bold]")
    out.print(
        f"Simulasi {result['label']}: {result['title']} · rilis {result['release']} · model "
        f"{result['model']} · per {result['reference_date']}",
        highlight=False,
    )
    out.print(
        f"Setahun: {_rp(result['total_year_idr'])} (pembanding "
        f"{_rp(result['baseline_year_idr'])}, selisih {_signed(result['difference_year_idr'])})",
        highlight=False,
    )
    for code, p in result["programs"].items():
        sc, bl = p["scenario"], p["baseline"]
        base = p.get("baseline_source", {})
        against = (
            f"siklus {base.get('cycle')}"
            if base.get("kind") == "cycle"
            else "definisi tanpa perubahan"
            if base.get("kind") == "definitions"
            else "tidak ada (program baru)"
        )
        out.print(
            table(
                f"{code} — {p['name']} (pembanding: {against}; "
                f"perubahan: {_changes_text(p['changes'])})",
                ["", "penerima", "keluarga", "per siklus", "per bulan", "per tahun"],
                [
                    [
                        side,
                        grouped(v["beneficiaries"]),
                        grouped(v["families"]),
                        _rp(v["per_cycle_idr"]),
                        _rp(v["per_month_idr"]),
                        _rp(v["per_year_idr"]),
                    ]
                    for side, v in (("skenario", sc), ("pembanding", bl))
                ],
            )
        )
        moves = p["families"]
        out.print(
            "Keluarga: "
            + ", ".join(
                f"{grouped(moves[m]['families'])} {w} ({_signed(moves[m]['difference_year_idr'])}"
                " setahun)"
                for m, w in MOVES.items()
            ),
            highlight=False,
        )
        out.print(
            table(
                "Per provinsi (setahun)",
                [
                    "provinsi",
                    "penerima",
                    "selisih",
                    "anggaran",
                    "selisih",
                    "masuk",
                    "keluar",
                    "naik",
                    "turun",
                ],
                [
                    [
                        f"{g['key']} {names.get(str(g['key']), '')}".strip(),
                        grouped(g["scenario_beneficiaries"]),
                        grouped(g["difference_beneficiaries"]),
                        _rp(g["scenario_year_idr"]),
                        _signed(g["difference_year_idr"]),
                        grouped(g["entered"]),
                        grouped(g["left"]),
                        grouped(g["gained"]),
                        grouped(g["lost"]),
                    ]
                    for g in p["by"]["province"]
                ],
            )
        )
        out.print(
            table(
                "Per desil (setahun)",
                ["desil", "penerima", "selisih", "anggaran", "selisih"],
                [
                    [
                        str(g["key"]),
                        grouped(g["scenario_beneficiaries"]),
                        grouped(g["difference_beneficiaries"]),
                        _rp(g["scenario_year_idr"]),
                        _signed(g["difference_year_idr"]),
                    ]
                    for g in p["by"]["decile"]
                ],
            )
        )
        parts = sorted(set(sc["by_component"]) | set(bl["by_component"]))
        if parts:
            zero = {"persons": 0, "amount_idr": 0}
            out.print(
                table(
                    "Anggota per komponen (per siklus)",
                    ["komponen", "orang", "pembanding", "jumlah", "pembanding"],
                    [
                        [
                            p.get("labels", {}).get(n, n),
                            grouped(sc["by_component"].get(n, zero)["persons"]),
                            grouped(bl["by_component"].get(n, zero)["persons"]),
                            _rp(sc["by_component"].get(n, zero)["amount_idr"]),
                            _rp(bl["by_component"].get(n, zero)["amount_idr"]),
                        ]
                        for n in parts
                    ],
                )
            )
        for move in ("entered", "left"):
            sample = moves[move].get("sample", [])
            if sample:
                out.print(
                    f"Contoh keluarga {MOVES[move]}: "
                    + ", ".join(f"{s['kk_number']} ({s['regency_code']})" for s in sample[:10])
                    + f"  → lumbung simulate explain {result['label']} --program {code} --kk KK",
                    highlight=False,
                )


def _changes_text(changes: Any, prefix: str = "") -> str:
    """`{'amounts': {'elderly': 4800000}}` as the command line takes it:
    `amounts.elderly=4800000`."""
    if not changes:
        return "-"
    if not isinstance(changes, dict):
        return f"{prefix}={changes}"
    parts = []
    for key, value in changes.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        parts.append(_changes_text(value, name) if isinstance(value, dict) else f"{name}={value}")
    return ", ".join(parts)


@simulate_app.command("run")
@handled
def simulate_run(
    label: str = typer.Argument(..., help="The simulation's label, e.g. PKH-LANSIA-2X."),
    release: str = typer.Option(..., "--release"),
    scenario: Path | None = typer.Option(
        None, "--scenario", help="A scenario file (YAML; docs/CLI.md)."
    ),
    program: str | None = typer.Option(
        None, "--program", help="Without --scenario: a program code or definition file."
    ),
    change: list[str] = typer.Option(
        [],
        "--change",
        help="Without --scenario: KEY=VALUE, e.g. amounts.elderly=4800000, decile=4, "
        "regions=31,32.01 (repeatable).",
    ),
    baseline_cycle: str | None = typer.Option(
        None, "--baseline-cycle", help="Compare with this approved cycle of the program."
    ),
    engine: EngineName = typer.Option(EngineName.DUCKDB, "--engine", help="duckdb or spark."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date ages are taken at."),
    model: str | None = typer.Option(None, "--model", help="PMT model NAME@VERSION."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Run a scenario against a release and store it as a simulation (never a cycle)."""
    from lumbung.simulation.service import run_simulation

    built = _scenario(scenario, program, change, baseline_cycle)
    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = run_simulation(
            session,
            actor=user,
            label=label,
            scenario=built,
            release_label=release,
            data_dir=settings().data_dir,
            engine=engine,
            as_of=parse_date(as_of, "--as-of") if as_of else None,
            model=model,
        )
    emit(as_json, result, lambda: print_simulation(result))


@simulate_app.command("list")
@handled
def simulate_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Every simulation, newest first."""
    from lumbung.simulation.service import list_simulations

    with unit_of_work() as session:
        found = list_simulations(session, actor=acting_user(session, actor))

    def human() -> None:
        out.print(NOTICE)
        out.print(
            table(
                "Simulasi",
                ["label", "judul", "rilis", "program", "setahun", "selisih", "oleh"],
                [
                    [
                        s["label"],
                        s["title"],
                        s["release"],
                        ", ".join(s["programs"]),
                        _rp(s["total_year_idr"]),
                        _signed(s["difference_year_idr"]),
                        s["created_by"],
                    ]
                    for s in found
                ],
            )
        )

    emit(as_json, found, human)


@simulate_app.command("show")
@handled
def simulate_show(label: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """One simulation: per program, month and year; by province, desil; families moving."""
    from lumbung.simulation.service import show_simulation

    with unit_of_work() as session:
        result = show_simulation(session, actor=acting_user(session, actor), label=label)
    emit(as_json, result, lambda: print_simulation(result))


@simulate_app.command("compare")
@handled
def simulate_compare(
    labels: list[str] = typer.Argument(..., help="Two or more simulation labels."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Several simulations side by side: each program's budget and beneficiaries."""
    from lumbung.simulation.service import compare_simulations

    with unit_of_work() as session:
        found = compare_simulations(session, actor=acting_user(session, actor), labels=labels)

    def human() -> None:
        out.print(NOTICE)
        rows = []
        for s in found:
            for code, p in s["programs"].items():
                rows.append(
                    [
                        s["label"],
                        code,
                        grouped(p["scenario"]["beneficiaries"]),
                        grouped(p["baseline"]["beneficiaries"]),
                        _rp(p["scenario"]["per_year_idr"]),
                        _signed(p["scenario"]["per_year_idr"] - p["baseline"]["per_year_idr"]),
                        grouped(p["families"]["entered"]["families"]),
                        grouped(p["families"]["left"]["families"]),
                    ]
                )
        out.print(
            table(
                "Simulasi berdampingan",
                [
                    "simulasi",
                    "program",
                    "penerima",
                    "pembanding",
                    "setahun",
                    "selisih",
                    "masuk",
                    "keluar",
                ],
                rows,
            )
        )

    emit(as_json, found, human)


@simulate_app.command("solve")
@handled
def simulate_solve(
    program: str = typer.Option(..., "--program"),
    budget: int = typer.Option(..., "--budget", help="Yearly budget, whole rupiah."),
    release: str = typer.Option(..., "--release"),
    method: str = typer.Option(
        "decile", "--method", help="decile, percentile (a score cut per regency) or scale."
    ),
    change: list[str] = typer.Option([], "--change", help="Other changes first (KEY=VALUE)."),
    save_as: str | None = typer.Option(
        None, "--save-as", help="Store the solution as a simulation with this label."
    ),
    engine: EngineName = typer.Option(EngineName.DUCKDB, "--engine"),
    as_of: str | None = typer.Option(None, "--as-of"),
    model: str | None = typer.Option(None, "--model"),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The desil threshold, or the uniform scaling of amounts, that spends at most a budget."""
    from lumbung.simulation.scenario import changes_from_options
    from lumbung.simulation.solve import solve_budget

    changes = changes_from_options(change)
    with unit_of_work() as session:
        answer = solve_budget(
            session,
            actor=acting_user(session, actor),
            program=program,
            budget_year_idr=budget,
            method=method,
            release_label=release,
            data_dir=settings().data_dir,
            changes=changes,
            engine=engine,
            as_of=parse_date(as_of, "--as-of") if as_of else None,
            model=model,
            save_as=save_as,
        )

    def human() -> None:
        out.print(NOTICE)
        if not answer["solved"]:
            out.print(f"Tidak ada penyelesaian: {answer['reason']}.", highlight=False)
        elif answer["method"] == "decile":
            following = answer["next"]
            out.print(
                f"{answer['program']}: desil <= {answer['decile']}, "
                f"{grouped(answer['beneficiaries'])} penerima, "
                f"{_rp(answer['per_year_idr'])} setahun (anggaran {_rp(answer['budget_year_idr'])})"
                + (
                    f"; desil <= {following['decile']} akan {_rp(following['per_year_idr'])}."
                    if following
                    else "."
                ),
                highlight=False,
            )
        elif answer["method"] == "percentile":
            following = answer["next"]
            out.print(
                f"{answer['program']}: {answer['percent']} % termiskin di setiap kab/kota, "
                f"{grouped(answer['beneficiaries'])} penerima, "
                f"{_rp(answer['per_year_idr'])} setahun "
                f"(anggaran {_rp(answer['budget_year_idr'])})"
                + (
                    f"; {following['percent']} % akan {_rp(following['per_year_idr'])}."
                    if following
                    else "."
                ),
                highlight=False,
            )
            out.print(
                table(
                    "Potongan skor per kab/kota",
                    ["kab/kota", "skor tertinggi", "keluarga"],
                    [
                        [r["regency_code"], f"{r['score_cut']:.4f}", grouped(r["households"])]
                        for r in answer["score_cuts"]
                    ],
                )
            )
        else:
            out.print(
                f"{answer['program']}: jumlah dikali {answer['scale_permille'] / 1000:.3f} → "
                + ", ".join(f"{n} {_rp(v)}" for n, v in answer["amounts"].items())
                + f"; {grouped(answer['beneficiaries'])} penerima, "
                f"{_rp(answer['per_year_idr'])} setahun "
                f"(anggaran {_rp(answer['budget_year_idr'])}).",
                highlight=False,
            )
        if answer["solved"]:
            out.print(
                table(
                    "Per provinsi",
                    ["provinsi", "penerima", "setahun"],
                    [
                        [r["province_code"], grouped(r["beneficiaries"]), _rp(r["per_year_idr"])]
                        for r in answer["by_province"]
                    ],
                )
            )
        if answer.get("simulation"):
            out.print(f"Disimpan sebagai simulasi {answer['simulation']}.")

    emit(as_json, answer, human)


@simulate_app.command("delete")
@handled
def simulate_delete(
    label: str, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """Remove a simulation: its row and its files."""
    from lumbung.simulation.service import delete_simulation

    with unit_of_work() as session:
        delete_simulation(
            session, actor=acting_user(session, actor), label=label, data_dir=settings().data_dir
        )
    emit(as_json, {"deleted": label}, lambda: out.print(f"Simulasi {label} dihapus."))


@simulate_app.command("export")
@handled
def simulate_export(
    labels: list[str] = typer.Argument(..., help="One or more simulation labels."),
    out_file: Path = typer.Option(..., "--out", help="The file to write (.csv or .xlsx)."),
    fmt: str | None = typer.Option(None, "--format", help="csv or xlsx (default: by --out)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Several simulations side by side in one XLSX, or one CSV."""
    from lumbung.simulation.export import export_simulations

    chosen = fmt or out_file.suffix.lstrip(".").lower()
    with unit_of_work() as session:
        _, content = export_simulations(
            session, actor=acting_user(session, actor), labels=labels, fmt=chosen
        )
    out_file.write_bytes(content)
    emit(
        as_json,
        {"file": str(out_file), "bytes": len(content), "format": chosen},
        lambda: out.print(f"{out_file} ditulis ({grouped(len(content))} byte)."),
    )


@simulate_app.command("explain")
@handled
def simulate_explain(
    label: str,
    program: str = typer.Option(..., "--program"),
    kk: str = typer.Option(..., "--kk", help="The family's KK number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Why a family is or is not entitled in a simulation's scenario, clause by clause."""
    from lumbung.cli.cycles import _print_explanation
    from lumbung.simulation.explain import explain_simulated

    with unit_of_work() as session:
        report = explain_simulated(
            session,
            actor=acting_user(session, actor),
            label=label,
            program=program,
            kk_number=kk,
            data_dir=settings().data_dir,
        )

    def human() -> None:
        out.print(f"[bold]{NOTICE}[/bold]")
        _print_explanation(report)

    emit(as_json, report, human)


@simulate_app.command("errors")
@handled
def simulate_errors(
    label: str,
    survey: Path = typer.Option(
        ...,
        "--survey",
        help="A survey with consumption (as `pmt fit` takes), or its households.csv.",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Inclusion and exclusion error of each program at the scenario's coverage."""
    from lumbung.simulation.survey import targeting_errors

    with unit_of_work() as session:
        found = targeting_errors(
            session,
            actor=acting_user(session, actor),
            label=label,
            survey=survey,
            data_dir=settings().data_dir,
        )

    def human() -> None:
        out.print(NOTICE)
        out.print(
            f"{grouped(found['in_release'])} dari {grouped(found['survey_households'])} keluarga "
            "survei ada di rilis simulasi."
        )
        out.print(
            table(
                "Galat inklusi dan eksklusi pada cakupan skenario",
                ["program", "", "cakupan", "galat inklusi", "galat eksklusi"],
                [
                    [
                        code,
                        "skenario" if side == "scenario" else "pembanding",
                        f"{v['coverage']:.1%}",
                        f"{v['inclusion_error']:.1%}",
                        f"{v['exclusion_error']:.1%}",
                    ]
                    for code, sides in found["programs"].items()
                    for side, v in sides.items()
                ],
            )
        )

    emit(as_json, found, human)

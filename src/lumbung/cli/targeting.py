"""`lumbung pmt …`: fit a proxy means test, score a release into desil."""

from __future__ import annotations

from datetime import date
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
    settings,
    table,
    unit_of_work,
)
from lumbung.engine.names import EngineName
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

# The engines (Ibis, DuckDB, Spark) load inside the commands that compute, not for every command.

pmt_app = typer.Typer(help="PMT: welfare ranking and deciles per regency.", no_args_is_help=True)
EngineOption = typer.Option(EngineName.DUCKDB, "--engine", help="Batch engine: duckdb or spark.")


@pmt_app.command("fit")
@handled
def pmt_fit(
    survey: Path = typer.Option(
        ...,
        "--survey",
        help="Folder: households.csv (+ consumption_per_capita, weight) and members.csv.",
    ),
    out_path: Path = typer.Option(..., "--out", help="Model file to write (.yaml or .json)."),
    name: str = typer.Option("pmt", "--name"),
    version: str = typer.Option(..., "--version", help="Model version, e.g. 2026.11."),
    area: str = typer.Option("province", "--area", help="Area effects: province, regency or none."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date ages are taken at (YYYY-MM-DD; default today)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Fit a PMT model on a survey sample; report fit and targeting on held-out households."""
    from lumbung.targeting.pmt import check_name, save_model  # with Ibis: only when needed

    reference = parse_date(as_of, "--as-of") if as_of else date.today()
    check_name(name, version)
    if out_path.suffix not in (".yaml", ".yml", ".json"):
        raise ValidationFailed(f"--out {out_path}: berkas model harus .yaml, .yml atau .json.")
    if not out_path.parent.is_dir():
        raise ValidationFailed(f"--out {out_path}: folder {out_path.parent} tidak ada.")
    from lumbung.targeting.fit import fit_model

    report = fit_model(
        survey, name=name, version=version, as_of=reference, area=None if area == "none" else area
    )
    save_model(report.model, out_path)
    fit = report.model.fit
    payload = {"model": report.model.key, "file": str(out_path), **fit}

    def human() -> None:
        held = fit["held_out"]
        out.print(
            table(
                f"Model {report.model.key} → {out_path}",
                ["ukuran", "latih", "uji (tidak dilihat)"],
                [
                    [
                        "keluarga",
                        grouped(fit["train_households"]),
                        grouped(fit["held_out_households"]),
                    ],
                    ["R² (log konsumsi)", fit["train"]["r2"], held["r2"]],
                    ["korelasi peringkat Spearman", fit["train"]["spearman"], held["spearman"]],
                    [
                        "galat inklusi (kuota 40 %)",
                        fit["train"]["inclusion_error"],
                        held["inclusion_error"],
                    ],
                    [
                        "galat eksklusi (kuota 40 %)",
                        fit["train"]["exclusion_error"],
                        held["exclusion_error"],
                    ],
                ],
            )
        )

    emit(as_json, payload, human)


@pmt_app.command("score")
@handled
def pmt_score(
    release: str = typer.Option(..., "--release"),
    model: Path | None = typer.Option(
        None, "--model", help="Model file (default: the shipped illustrative model)."
    ),
    engine: EngineName = EngineOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Score every household of a release and rank it into desil within its regency."""
    from lumbung.targeting.pmt import default_model_path, load_model
    from lumbung.targeting.service import score_release

    pmt = load_model(model or default_model_path())
    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = score_release(
            session,
            actor=user,
            release_label=release,
            model=pmt,
            data_dir=settings().data_dir,
            engine=engine,
        )

    def human() -> None:
        note = " (sudah pernah diberi skor; tidak dihitung ulang)" if result.already_scored else ""
        out.print(
            f"Rilis {result.release}: {grouped(result.households)} keluarga "
            f"di {result.regencies} kab/kota "
            f"diberi skor dengan {result.model}{note} → {result.scores_file}"
        )
        out.print(
            table(
                "Keluarga per desil",
                ["desil", "keluarga"],
                [[d, grouped(n)] for d, n in sorted(result.by_decile.items())],
            )
        )

    emit(as_json, result.as_dict(), human)

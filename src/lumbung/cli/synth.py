"""`lumbung synth`: a synthetic batch in the exchange format."""

from __future__ import annotations

from pathlib import Path

import typer

from lumbung.cli.common import JsonOption, console, emit, handled, out
from lumbung.numbers import grouped


@handled
def synth_command(
    households: int = typer.Option(..., "--households", min=0, help="Number of families."),
    seed: int = typer.Option(..., "--seed", help="Same seed, same files, byte for byte."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Folder for households.csv, members.csv, truth/."
    ),
    noise: float = typer.Option(
        0.0,
        "--noise",
        min=0.0,
        max=1.0,
        help="Share of rows carrying a realistic error (recorded in truth/).",
    ),
    region: str | None = typer.Option(
        None,
        "--region",
        help="Only villages of this region (31, 31.71, 31.71.01, …), drawn evenly: a small "
        "batch whose regencies hold enough families for desil to mean something.",
    ),
    duplicates: float = typer.Option(
        0.0,
        "--duplicates",
        min=0.0,
        max=0.5,
        help="Share of members registered a second time with realistic noise (spelling, NIK "
        "typos, date swaps, moved families), twins and common names planted; which rows are "
        "one person goes to truth/persons.csv.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Write synthetic families in real villages; the hidden consumption goes to truth/."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from lumbung.synth import generate

    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("keluarga", total=households)
        summary = generate(
            households=households,
            seed=seed,
            out_dir=out_dir,
            noise=noise,
            progress=lambda n: progress.advance(task, n),
            region=region,
            duplicates=duplicates,
        )
    payload = {
        "households": summary.households,
        "members": summary.members,
        "noise_rows": summary.noise_rows,
        "duplicate_rows": summary.copies,
        "files": {k: str(v) for k, v in summary.files.items()},
    }
    emit(
        as_json,
        payload,
        lambda: out.print(
            f"{grouped(summary.households)} keluarga, {grouped(summary.members)} anggota, "
            f"{grouped(summary.noise_rows)} baris bergalat"
            + (f", {grouped(summary.copies)} baris ganda" if summary.copies else "")
            + f" → {out_dir}"
        ),
    )

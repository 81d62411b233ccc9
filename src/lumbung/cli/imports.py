"""`lumbung import`: a village batch into the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    console,
    emit,
    error_line,
    handled,
    out,
    say,
    settings,
    table,
    unit_of_work,
)
from lumbung.numbers import grouped

# The import summary's counts, as an operator reads them (the JSON keeps the field names).
SUMMARY_LABELS = {
    "households_read": "keluarga dibaca",
    "members_read": "anggota dibaca",
    "households_accepted": "keluarga diterima",
    "members_accepted": "anggota diterima",
    "households_rejected": "keluarga ditolak",
    "members_rejected": "anggota ditolak",
    "households_unchanged": "keluarga sudah terdaftar, tidak berubah",
    "members_unchanged": "anggota sudah terdaftar, tidak berubah",
    "duplicates_for_review": "NIK ganda untuk diperiksa",
    "errors_total": "galat",
    "warnings_total": "peringatan",
    "reject_file_rows": "masalah di berkas tolakan",
    "reject_file_omitted": "masalah tidak ditulis (batas berkas tolakan)",
}


@handled
def import_command(
    paths: list[Path] = typer.Argument(
        ..., help="households.csv + members.csv, an XLSX, or a folder."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, load nothing."),
    status: str = typer.Option(
        "proposed",
        help="Entry status: proposed, or verified/approved "
        "when migrating an existing registry (admin).",
    ),
    allow_duplicates: bool = typer.Option(
        False, "--allow-duplicates", help="Load duplicate NIKs and queue them for review."
    ),
    link: bool = typer.Option(
        False,
        "--link",
        help="Link the batch against the latest release first: probable duplicates are "
        "warned (probable_duplicate) and sent to review.",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Check a batch of families and load the good rows; every rejected row gets its reason."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lumbung.linkage.batch import ReleaseLinker
    from lumbung.registry.import_run import ImportRequest
    from lumbung.registry.importer import import_batch

    s = settings()
    request = ImportRequest(
        paths=paths,
        rejects_dir=s.rejects_dir,
        status=status,
        dry_run=dry_run,
        allow_duplicates=allow_duplicates,
        link=ReleaseLinker(s.data_dir, s.releases_dir) if link else None,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("impor", total=None)
        with unit_of_work() as session:
            user = acting_user(session, actor)
            summary = import_batch(
                session,
                actor=user,
                request=request,
                progress=lambda stage: progress.update(task, description=stage),
            )
            if dry_run:
                session.rollback()
    result = summary.as_dict()

    def human() -> None:
        rows = [[label, grouped(result[key])] for key, label in SUMMARY_LABELS.items()]
        if summary.batch_id is not None:
            rows.append(["nomor batch (untuk --batch)", str(summary.batch_id)])
        out.print(
            table(
                "Hasil impor" + (" (dry run: tidak ada yang dimuat)" if dry_run else ""),
                ["", "jumlah"],
                rows,
            )
        )
        for e in summary.errors[:20]:
            out.print(error_line(e), highlight=False)
        if summary.errors_total > 20:
            say(f"… dan {grouped(summary.errors_total - 20)} galat lain.")
        if summary.linkage is not None:
            say_linkage(summary.linkage, summary.warnings)
        if summary.reject_file:
            say(f"Berkas tolakan: {summary.reject_file}")
        if summary.reject_file_omitted:
            say(
                f"Berkas tolakan memuat {grouped(summary.reject_file_rows)} masalah pertama "
                f"(galat lebih dulu); {grouped(summary.reject_file_omitted)} masalah lain tidak "
                "ditulis."
            )

    emit(as_json, result, human)


def say_linkage(linkage: dict[str, Any], warnings: list[dict[str, Any]]) -> None:
    """What linking the batch against the latest release found, and its first warnings."""
    say(
        f"Dicocokkan dengan rilis {linkage['release']} (model run pencocokan "
        f"{linkage['model_run']}, bobot tinjauan {linkage['review_weight']}): "
        f"{grouped(linkage['probable_duplicates'])} baris kemungkinan duplikat, "
        f"{grouped(linkage['pairs_queued'])} pasangan masuk antrean tinjauan, "
        f"{grouped(linkage['pairs_known'])} sudah ada di antrean atau sudah diputuskan."
    )
    probable = [w for w in warnings if w.get("code") == "probable_duplicate"]
    for w in probable[:20]:
        out.print(error_line(w), highlight=False)
    if linkage["probable_duplicates"] > 20:
        say(f"… dan {grouped(linkage['probable_duplicates'] - 20)} lain (di berkas tolakan).")

"""`lumbung release …`."""

from __future__ import annotations

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    emit_check,
    handled,
    out,
    settings,
    shown,
    table,
    unit_of_work,
)
from lumbung.numbers import grouped

release_app = typer.Typer(
    help="Releases: the determined registry, frozen as Parquet.", no_args_is_help=True
)


@release_app.command("create")
@handled
def release_create(
    label: str = typer.Option(..., "--label"),
    decree: str | None = typer.Option(None, "--decree", help="Decree (SK) text."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Freeze every approved family as a release (cannot be overwritten)."""
    from lumbung.releases.service import create_release

    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = create_release(
            session, actor=user, label=label, decree=decree, releases_dir=settings().releases_dir
        )
    emit(
        as_json,
        result.as_dict(),
        lambda: out.print(
            f"Rilis {result.release}: {grouped(result.households)} keluarga, "
            f"{grouped(result.members)} anggota → {result.path}"
        ),
    )


@release_app.command("verify")
@handled
def release_verify(label: str, as_json: bool = JsonOption) -> None:
    """Recompute every file's sha256; fail loudly on any change."""
    from lumbung.releases.service import verify_release

    with unit_of_work() as session:
        report = verify_release(session, label=label, releases_dir=settings().releases_dir)

    emit_check(
        as_json,
        report.as_dict(),
        ok=report.ok,
        good=f"rilis {label}, {report.files} berkas utuh.",
        bad=f"rilis {label}",
        problems=report.problems,
    )


@release_app.command("list")
@handled
def release_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Every release."""
    from lumbung.releases.service import list_releases

    with unit_of_work() as session:
        rows = [r.as_dict() for r in list_releases(session, acting_user(session, actor))]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Rilis",
                ["label", "dibuat (UTC)", "oleh", "keluarga", "anggota", "SK"],
                [
                    [
                        r["release"],
                        r["created_at"][:19].replace("T", " "),
                        r["created_by"],
                        grouped(r["households"]),
                        grouped(r["members"]),
                        shown(r["decree"]),
                    ]
                    for r in rows
                ],
            )
        ),
    )

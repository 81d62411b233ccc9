"""`lumbung link …`: record linkage runs on a release, the review queue, decisions, and a
run's quality report."""

from __future__ import annotations

from pathlib import Path

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    LimitOption,
    OffsetOption,
    RegionOption,
    acting_user,
    emit,
    handled,
    out,
    say,
    settings,
    table,
    unit_of_work,
)
from lumbung.numbers import grouped

link_app = typer.Typer(
    help="Record linkage: find the same person twice in a release; review and decide pairs.",
    no_args_is_help=True,
)

DECISION_WORDS = {
    "same_person": "orang yang sama",
    "not_same": "bukan orang yang sama",
    "field_visit": "perlu kunjungan lapangan",
    "pending": "menunggu keputusan",
}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


@link_app.command("run")
@handled
def run_command(
    release: str = typer.Option(..., "--release", help="The release's label."),
    # No default here: the engine's (linkage.service.DEFAULT_REVIEW_WEIGHT) is loaded with
    # the engine, when the command runs, not for every `lumbung …` (--help included).
    review_weight: float | None = typer.Option(
        None,
        "--review-weight",
        help="Pairs at or above this match weight (log2 odds) go to review (default: 3.0).",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Deduplicate a release's members; the pairs above the review weight go to review."""
    from lumbung.linkage import service

    with unit_of_work() as session:
        run = service.run_link(
            session,
            actor=acting_user(session, actor),
            release_label=release,
            data_dir=settings().data_dir,
            releases_dir=settings().releases_dir,
            review_weight=service.DEFAULT_REVIEW_WEIGHT if review_weight is None else review_weight,
        )

    def human() -> None:
        say(
            f"Run linkage {run.id} atas rilis {run.release}: {grouped(run.records)} catatan, "
            f"{grouped(run.clusters)} klaster, {grouped(run.pairs_scored)} pasangan dinilai, "
            f"{grouped(run.pairs_queued)} masuk antrean tinjauan, {grouped(run.pairs_known)} "
            "sudah diputuskan sebelumnya."
        )

    emit(as_json, run.as_dict(), human)


@link_app.command("batch")
@handled
def batch_command(
    paths: list[Path] = typer.Argument(
        ..., help="households.csv + members.csv, an XLSX, or a folder (as `lumbung import`)."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Check a batch against the latest release before importing it: which rows are probably
    people already registered (nothing is loaded, nothing queued)."""
    from lumbung.cli.imports import say_linkage
    from lumbung.linkage import batch

    s = settings()
    with unit_of_work() as session:
        summary = batch.check_batch(
            session,
            actor=acting_user(session, actor),
            paths=paths,
            rejects_dir=s.rejects_dir,
            folders=batch.ReleaseLinker(s.data_dir, s.releases_dir),
        )
        session.rollback()  # a check: nothing it did is kept
    linkage = summary.linkage or {}
    result = {
        "linkage": linkage,
        "probable_duplicates": batch.probable_duplicates(summary),
        "errors_total": summary.errors_total,
        "warnings_total": summary.warnings_total,
        "reject_file": summary.reject_file,
    }

    def human() -> None:
        say_linkage(linkage, summary.warnings)
        if summary.errors_total:
            say(
                f"Batch ini juga punya {grouped(summary.errors_total)} galat impor "
                "(`lumbung import --dry-run` merinci)."
            )
        if summary.reject_file:
            say(f"Berkas tolakan (dry run): {summary.reject_file}")

    emit(as_json, result, human)


@link_app.command("runs")
@handled
def runs_command(
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Linkage runs, newest first."""
    from lumbung.linkage import service

    with unit_of_work() as session:
        page = service.list_runs(session, acting_user(session, actor), limit=limit, offset=offset)
    emit(
        as_json,
        page.as_dict(),
        lambda: out.print(
            table(
                "Run linkage",
                ["run", "rilis", "catatan", "klaster", "dinilai", "antre", "mulai"],
                [
                    [
                        r.id,
                        r.release,
                        grouped(r.records),
                        grouped(r.clusters),
                        grouped(r.pairs_scored),
                        grouped(r.pairs_queued),
                        r.started_at.strftime("%Y-%m-%d %H:%M"),
                    ]
                    for r in page.items
                ],
            )
        ),
    )


@link_app.command("pairs")
@handled
def pairs_command(
    state: str = typer.Option(
        "pending", "--state", help="pending, same_person, not_same, field_visit."
    ),
    run: int | None = typer.Option(None, "--run", help="One run's pairs."),
    region: str | None = RegionOption,
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The review queue in your region (names and NIKs masked), the strongest pairs first."""
    from lumbung.linkage import review

    with unit_of_work() as session:
        page = review.review_queue(
            session,
            acting_user(session, actor),
            state=state,
            run_id=run,
            region=region,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        out.print(
            table(
                f"Pasangan kemiripan ({DECISION_WORDS.get(state, state)})",
                ["pasangan", "bobot", "peluang", "kiri", "kanan", "wilayah"],
                [
                    [
                        p.id,
                        f"{p.match_weight:.2f}",
                        _percent(p.match_probability),
                        f"{p.left.name} · {p.left.nik} · {p.left.birth_date}",
                        f"{p.right.name} · {p.right.nik} · {p.right.birth_date}",
                        p.region_code or "nasional",
                    ]
                    for p in page.items
                ],
            )
        )
        if page.total > offset + len(page.items):
            say(f"… {grouped(page.total - offset - len(page.items))} pasangan lagi (--offset).")

    emit(as_json, page.as_dict(), human)


@link_app.command("show")
@handled
def show_command(
    pair: int = typer.Argument(..., help="The pair's number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """One pair: both records side by side and each comparison's weight (the waterfall)."""
    from lumbung.linkage import review

    with unit_of_work() as session:
        view = review.get_pair(session, acting_user(session, actor), pair_id=pair)

    def human() -> None:
        left, right = view.pair.left, view.pair.right
        out.print(
            table(
                f"Pasangan {view.pair.id} (run {view.pair.run_id}): bobot "
                f"{view.pair.match_weight:.2f}, {DECISION_WORDS[view.pair.state]}",
                ["kolom", "kiri", "kanan", ""],
                [
                    [c, left.value(c), right.value(c), "berbeda" if c in view.differs else ""]
                    for c in review.COMPARED
                ],
            )
        )
        out.print(
            table(
                "Sumbangan tiap perbandingan (log2)",
                ["perbandingan", "tingkat", "bobot"],
                [["awal (prior)", "", f"{view.prior_weight:+.2f}"]]
                + [[c.name, c.level, f"{c.weight:+.2f}"] for c in view.waterfall]
                + [["jumlah", "", f"{view.pair.match_weight:+.2f}"]],
            )
        )

    emit(as_json, view.as_dict(), human)


@link_app.command("decide")
@handled
def decide_command(
    pair: int = typer.Argument(..., help="The pair's number."),
    decision: str = typer.Option(..., "--decision", help="same_person, not_same or field_visit."),
    keep: str = typer.Option(
        "left", "--keep", help="same_person: the record kept (left or right); the other leaves."
    ),
    new_head: str | None = typer.Option(
        None, "--new-head", help="same_person, a head leaving: the NIK of the new head."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Decide a pair (a verifier of its region); "same person" opens a change request."""
    from lumbung.linkage import review

    with unit_of_work() as session:
        decided = review.decide(
            session,
            actor=acting_user(session, actor),
            pair_id=pair,
            decision=decision,
            keep=keep,
            new_head=new_head,
        )

    def human() -> None:
        say(f"Pasangan {decided.pair_id}: {DECISION_WORDS[decided.decision]}.")
        if decided.change_request_id is not None:
            say(
                f"Usulan {decided.change_request_id} ({decided.request_kind}) dibuat; "
                f"verifikasi dan penetapan seperti usulan lain: lumbung request show "
                f"{decided.change_request_id}"
            )

    emit(as_json, decided.as_dict(), human)


@link_app.command("report")
@handled
def report_command(
    run: int = typer.Option(..., "--run", help="The run's number."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A run's quality: pairs and clusters by match-weight band, the precision the model
    expects, and the reviewers' agreement with the model."""
    from lumbung.linkage import quality

    with unit_of_work() as session:
        found = quality.quality_report(
            session, acting_user(session, actor), run_id=run, data_dir=settings().data_dir
        )

    def human() -> None:
        out.print(
            table(
                f"Mutu run linkage {found.run.id} (rilis {found.run.release})",
                ["bobot", "pasangan", "klaster", "sama", "tidak sama", "kunjungan", "sepakat"],
                [
                    [
                        b.label,
                        grouped(b.pairs),
                        grouped(b.clusters),
                        grouped(b.same_person),
                        grouped(b.not_same),
                        grouped(b.field_visit),
                        _percent(b.agreement),
                    ]
                    for b in found.bands
                ],
            )
        )
        say(
            f"Presisi menurut model (bobot ≥ {found.run.review_weight:g}, "
            f"{grouped(found.pairs_above_review)} pasangan): {_percent(found.estimated_precision)}"
        )
        say(
            f"Kesepakatan peninjau dengan model: {_percent(found.agreement)} "
            f"({grouped(found.agreed)} dari {grouped(found.decided)} keputusan)."
        )

    emit(as_json, found.as_dict(), human)

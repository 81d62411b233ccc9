"""Recording what partners answered: paid, failed, returned — idempotently, set-based.

The rows of a status file (a bank's pain.002 or CSV statement, PT Pos's uploads) arrive as
`OutcomeRow`s from a parser. They are staged in a temporary table and judged in SQL against
the attempts they name: unknown ids, another partner's batch, a batch not approved, an amount
that is not the one sent, a row twice in the file, a move the ledger does not allow (paid or
failed needs a pending attempt; returned a paid one) are refused row by row, with the file,
row and field; a row whose event is already in the ledger is counted as unchanged, so a file
imported twice changes nothing the second time. The rest become events (one operation per
cycle, sealed in the audit chain) and move their attempts' state, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle
from lumbung.db import is_postgres, utcnow
from lumbung.delivery import ledger
from lumbung.driver_errors import is_unique_violation
from lumbung.errors import Conflict
from lumbung.numbers import grouped

# What each status becomes in the ledger, by the order the file is applied in: a payment and
# its return in one file are recorded in that order.
PHASES = (("paid", "failed"), ("returned",))
OUTCOME_KINDS = ("paid", "failed", "returned")
_ENTITLEMENT = re.compile(r"(\d{1,18})-(\d{1,18})")
_ATTEMPT = re.compile(r"(\d{1,18})-(\d{1,18})-(\d{1,9})")
STAGE = "outcome_stage"
CHECKED = "outcome_checked"


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One line of a partner's answer about one attempt."""

    row: int  # the line or record number in the file, for messages
    end_to_end_id: str  # the entitlement's id, `<cycle>-<beneficiary>`
    instruction_id: str | None  # the attempt's id, `<cycle>-<beneficiary>-<attempt>`, if given
    status: str  # paid, failed or returned
    amount_idr: int | None
    reference: str | None = None
    reason: str | None = None
    value_date: date | None = None


@dataclass(slots=True)
class OutcomeSummary:
    file: str
    sha256: str
    rows: int = 0
    recorded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KINDS, 0))
    unchanged: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "rows": self.rows,
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "problems": self.problems,
        }


def problem(file: str, row: int, column: str, code: str, message: str) -> dict[str, Any]:
    """A row's problem in the shape every import reports (file, row, column, code, message)."""
    return {
        "file": file,
        "row": row,
        "column": column,
        "code": code,
        "message": message,
        "severity": "error",
    }


def record_outcomes(
    session: Session,
    *,
    actor: User,
    rows: Iterable[OutcomeRow],
    file_name: str,
    file_sha256: str,
    partner_code: str | None = None,
    parse_problems: Iterable[dict[str, Any]] = (),
) -> OutcomeSummary:
    """Record a partner's answers (see the module's docstring); `parse_problems` are the rows
    the parser already refused, reported with the rest."""
    authorize(actor, Action.RECONCILE)
    require_national(actor, "mencatat hasil pembayaran")
    summary = OutcomeSummary(file_name, file_sha256)
    summary.problems.extend(parse_problems)
    summary.rejected = len(summary.problems)
    summary.rows = summary.rejected
    bulk.roomy(session)
    bulk.drop_temp(session, STAGE)
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {STAGE} (row_number INTEGER NOT NULL,"
            " cycle_id BIGINT NOT NULL, beneficiary_id BIGINT NOT NULL, attempt INTEGER,"
            " kind VARCHAR(16) NOT NULL,"
            " amount_idr BIGINT, reference VARCHAR(64), reason VARCHAR(200), value_date DATE)"
        )
    )
    staged = _stage(session, rows, summary)
    summary.rows += staged
    if staged:
        for kinds in PHASES:
            _judge_and_apply(session, actor, summary, kinds, partner_code)
    bulk.drop_temp(session, STAGE)
    summary.problems.sort(key=lambda p: (p["row"], p["column"]))
    summary.rejected = len(summary.problems)
    return summary


def _stage(session: Session, rows: Iterable[OutcomeRow], summary: OutcomeSummary) -> int:
    """The well-formed rows into the staging table; the others into the summary's problems."""
    file = summary.file
    good: list[tuple[Any, ...]] = []
    count = 0

    def flush() -> None:
        if not good:
            return
        if is_postgres(session):
            cursor = bulk.driver_connection(session).cursor()
            with (
                cursor,
                cursor.copy(
                    f"COPY {STAGE} (row_number, cycle_id, beneficiary_id, attempt, kind,"
                    " amount_idr, reference, reason, value_date) FROM STDIN"
                ) as copy,
            ):
                for values in good:
                    copy.write_row(values)
        else:
            cursor = bulk.driver_connection(session).cursor()
            cursor.executemany(f"INSERT INTO {STAGE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", good)
            cursor.close()
        good.clear()

    for outcome in rows:
        entitlement = _ENTITLEMENT.fullmatch(outcome.end_to_end_id.strip())
        attempt: int | None = None
        if entitlement is None:
            summary.problems.append(
                problem(
                    file,
                    outcome.row,
                    "end_to_end_id",
                    "unknown_id",
                    f"Id end-to-end {outcome.end_to_end_id[:40]!r} bukan id hak Lumbung "
                    "(SIKLUS-PENERIMA).",
                )
            )
            continue
        if outcome.instruction_id:
            instruction = _ATTEMPT.fullmatch(outcome.instruction_id.strip())
            if instruction is None or instruction.group(1, 2) != entitlement.group(1, 2):
                summary.problems.append(
                    problem(
                        file,
                        outcome.row,
                        "instruction_id",
                        "unknown_id",
                        f"Id instruksi {outcome.instruction_id[:40]!r} bukan percobaan hak "
                        f"{outcome.end_to_end_id}.",
                    )
                )
                continue
            attempt = int(instruction.group(3))
        if outcome.status not in OUTCOME_KINDS:
            summary.problems.append(
                problem(
                    file,
                    outcome.row,
                    "status",
                    "unknown_status",
                    f"Status {outcome.status[:20]!r} tidak dikenal; pilihan: paid, failed, "
                    "returned.",
                )
            )
            continue
        good.append(
            (
                outcome.row,
                int(entitlement.group(1)),
                int(entitlement.group(2)),
                attempt,
                outcome.status,
                outcome.amount_idr,
                (outcome.reference or None) and outcome.reference[:64],
                (outcome.reason or None) and outcome.reason[:200],
                outcome.value_date,
            )
        )
        count += 1
        if len(good) >= bulk.CHUNK:
            flush()
    flush()
    return count


# Why a staged row is refused (or left alone), first reason first. `recorded`: the ledger has
# it already (not a problem: the same file again).
_VERDICT = """
CASE
  WHEN p.attempt IS NULL THEN 'unknown_id'
  WHEN CAST(:partner AS VARCHAR(16)) IS NOT NULL AND b.partner_code <> :partner THEN 'other_partner'
  WHEN b.state <> 'approved' THEN 'batch_not_approved'
  WHEN s.amount_idr IS NOT NULL AND s.amount_idr <> p.amount_idr THEN 'amount_mismatch'
  WHEN s.nth > 1 THEN 'duplicate_row'
  WHEN EXISTS (SELECT 1 FROM payment_event e WHERE e.cycle_id = p.cycle_id
               AND e.beneficiary_id = p.beneficiary_id AND e.attempt = p.attempt
               AND e.kind = s.kind) THEN 'recorded'
  WHEN s.kind = 'returned' AND p.state <> 'paid' THEN 'not_allowed'
  WHEN s.kind <> 'returned' AND p.state <> 'pending' THEN 'not_allowed'
  ELSE 'ok'
END"""


def _judge_and_apply(
    session: Session,
    actor: User,
    summary: OutcomeSummary,
    kinds: tuple[str, ...],
    partner: str | None,
) -> None:
    bulk.drop_temp(session, CHECKED)
    kind_list = ", ".join(f"'{k}'" for k in kinds)  # constants of this module, not input
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {CHECKED} (row_number INTEGER, kind VARCHAR(16),"
            " said_idr BIGINT, reference VARCHAR(64), reason VARCHAR(200), value_date DATE,"
            " cycle_id BIGINT, beneficiary_id BIGINT, attempt INTEGER, batch_id BIGINT,"
            " amount_idr BIGINT, state VARCHAR(24), batch_state VARCHAR(24),"
            " partner_code VARCHAR(16), first_row INTEGER, verdict VARCHAR(24))"
        )
    )
    session.execute(
        text(
            f"""
            INSERT INTO {CHECKED}
            SELECT s.row_number, s.kind, s.amount_idr, s.reference, s.reason, s.value_date,
                   p.cycle_id, p.beneficiary_id, p.attempt, p.batch_id, p.amount_idr, p.state,
                   b.state, b.partner_code, s.first_row, {_VERDICT}
            FROM (
              SELECT t.*,
                     ROW_NUMBER() OVER (PARTITION BY t.cycle_id, t.beneficiary_id, t.tried, t.kind
                                        ORDER BY t.row_number) AS nth,
                     MIN(t.row_number) OVER (
                       PARTITION BY t.cycle_id, t.beneficiary_id, t.tried, t.kind) AS first_row
              FROM (
                SELECT st.*,
                       COALESCE(st.attempt, (SELECT MAX(q.attempt) FROM payment_item q
                                             WHERE q.cycle_id = st.cycle_id
                                               AND q.beneficiary_id = st.beneficiary_id)) AS tried
                FROM {STAGE} st WHERE st.kind IN ({kind_list})
              ) t
            ) s
            LEFT JOIN payment_item p ON p.cycle_id = s.cycle_id
                 AND p.beneficiary_id = s.beneficiary_id AND p.attempt = s.tried
            LEFT JOIN payment_batch b ON b.id = p.batch_id
            """
        ),
        {"partner": partner},
    )
    # Every verdict by cycle and kind, in one pass over the judged rows.
    tally: dict[str, int] = {}
    accepted: dict[int, dict[str, int]] = {}  # cycle → kind → rows to record
    for verdict, cycle, kind, n in session.execute(
        text(f"SELECT verdict, cycle_id, kind, count(*) FROM {CHECKED} GROUP BY 1, 2, 3")
    ).all():
        tally[str(verdict)] = tally.get(str(verdict), 0) + int(n)
        if verdict == "ok":
            accepted.setdefault(int(cycle), {})[str(kind)] = int(n)
    if len(tally) > len({"ok", "recorded"} & set(tally)):
        for row in session.execute(
            text(
                f"SELECT c.row_number, c.kind, c.verdict, c.said_idr, c.amount_idr, c.state,"
                f" c.partner_code, c.batch_state, c.first_row, c.cycle_id, c.beneficiary_id"
                f" FROM {CHECKED} c WHERE c.verdict NOT IN ('ok', 'recorded')"
            )
        ):
            summary.problems.append(_refusal(summary.file, row, partner))
    summary.unchanged += tally.get("recorded", 0)
    if not accepted:
        bulk.drop_temp(session, CHECKED)
        return
    for cycle_id, by_kind in sorted(accepted.items()):
        source = ledger.new_operation()
        try:
            added = _insert_events(session, source, actor, cycle_id)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            raise Conflict(
                "Berkas jawaban yang sama sedang dicatat oleh proses lain; tidak ada yang "
                "dicatat. Catat berkas ini lagi: yang sudah tercatat tidak berubah."
            ) from error
        _move_items(session, cycle_id, added)
        for kind, n in by_kind.items():
            summary.recorded[kind] += n
        cycle = session.get_one(Cycle, cycle_id)
        ledger.seal(
            session,
            actor=actor,
            action="delivery.outcomes",
            cycle=cycle,
            source=source,
            details={
                "file": summary.file,
                "file_sha256": summary.sha256,
                "recorded": by_kind,
                "events": added,
            },
            digest=_events_digest(session, cycle_id),
        )
    bulk.drop_temp(session, CHECKED)


def _insert_events(session: Session, source: str, actor: User, cycle_id: int) -> int:
    """The cycle's accepted rows as ledger events; how many."""
    added = session.execute(
        text(
            f"""
            INSERT INTO payment_event (cycle_id, beneficiary_id, attempt, batch_id, kind,
                amount_idr, reference, reason, value_date, recorded_at, source, actor)
            SELECT cycle_id, beneficiary_id, attempt, batch_id, kind, amount_idr, reference,
                   reason, value_date, :now, :source, :actor
            FROM {CHECKED} WHERE verdict = 'ok' AND cycle_id = :cycle
            """
        ),
        {"now": utcnow(), "source": source, "actor": actor.username, "cycle": cycle_id},
    )
    return int(added.rowcount)  # type: ignore[attr-defined]


def _events_digest(session: Session, cycle_id: int) -> tuple[int, str]:
    """`ledger.events_digest` of the events `_insert_events` just made, from the judged rows
    they were made from (the same values, in the same order): the ledger of a national cycle
    is not read back whole for each file."""
    digest = hashlib.sha256()
    count = 0
    rows = session.execute(
        text(
            f"SELECT cycle_id, beneficiary_id, attempt, kind, amount_idr, batch_id, reference,"
            f" reason, value_date FROM {CHECKED} WHERE verdict = 'ok' AND cycle_id = :cycle"
            " ORDER BY beneficiary_id, attempt, kind"
        ),
        {"cycle": cycle_id},
    )
    while chunk := rows.fetchmany(bulk.CHUNK):
        digest.update(
            "".join(
                f"{c},{b},{a},{k},{amount},{batch},{ref or ''},{why or ''},{day or ''}\n"
                for c, b, a, k, amount, batch, ref, why, day in chunk
            ).encode()
        )
        count += len(chunk)
    return count, digest.hexdigest()


def _move_items(session: Session, cycle_id: int, expected: int) -> None:
    """Each judged attempt of the cycle to the state its new event says, from the state it
    was judged in: an attempt that moved since (a counter's redemption, another file at the
    same moment) is not overwritten; the whole file is refused and may be imported again.
    A payment (pending → paid) leaves `live` as it was: no indexed column changes, and
    PostgreSQL updates the row on its own page without new index entries (`models`)."""
    item = "p" if is_postgres(session) else "payment_item"
    alias = "payment_item p" if is_postgres(session) else "payment_item"
    moved = session.execute(
        text(
            f"""
            UPDATE {alias} SET state = c.kind, live = (c.kind = 'paid') FROM {CHECKED} c
            WHERE c.verdict = 'ok' AND c.cycle_id = :cycle AND {item}.cycle_id = c.cycle_id
              AND {item}.beneficiary_id = c.beneficiary_id AND {item}.attempt = c.attempt
              AND {item}.state = c.state
            """
        ),
        {"cycle": cycle_id},
    )
    if moved.rowcount != expected:  # type: ignore[attr-defined]
        raise Conflict(
            "Sebagian pembayaran dalam berkas ini berubah saat berkas dicatat (penukaran di "
            "loket, atau berkas lain pada saat yang sama); tidak ada yang dicatat. Catat "
            "berkas ini lagi."
        )


_STATE_WORDS = {
    "pending": "belum dijawab",
    "paid": "sudah dibayar",
    "failed": "sudah gagal",
    "returned": "sudah diretur",
    "cancelled": "sudah dibatalkan",
}


def _refusal(file: str, row: Any, partner: str | None) -> dict[str, Any]:
    (number, kind, verdict, said, due, state, owner, batch_state, first, cycle_id, beneficiary) = (
        row
    )
    ident = f"{cycle_id}-{beneficiary}" if cycle_id is not None else "ini"
    if verdict == "unknown_id":
        return problem(
            file, number, "end_to_end_id", verdict, "Tidak ada pembayaran Lumbung dengan id ini."
        )
    if verdict == "other_partner":
        return problem(
            file,
            number,
            "end_to_end_id",
            verdict,
            f"Pembayaran {ident} ada di batch mitra {owner}, bukan {partner}.",
        )
    if verdict == "batch_not_approved":
        word = "dibatalkan" if batch_state == "cancelled" else "belum disetujui"
        return problem(
            file,
            number,
            "end_to_end_id",
            verdict,
            f"Batch pembayaran {ident} {word}; hasilnya tidak dicatat.",
        )
    if verdict == "amount_mismatch":
        return problem(
            file,
            number,
            "amount_idr",
            verdict,
            f"Jumlah Rp{grouped(int(said))} tidak sama dengan yang dikirim "
            f"(Rp{grouped(int(due))}).",
        )
    if verdict == "duplicate_row":
        return problem(
            file,
            number,
            "end_to_end_id",
            verdict,
            f"Baris ganda: pembayaran {ident} dengan status {kind} sudah ada di baris {first}.",
        )
    return problem(
        file,
        number,
        "status",
        verdict,
        f"Pembayaran {ident} {_STATE_WORDS.get(str(state), str(state))}; status {kind} "
        "tidak bisa dicatat untuknya.",
    )

"""What a change request proposes, as the request page shows it: labelled fields in the
reader's language, each with the value it replaces where that is known, and the words a page
gives to a refused decision.

Built from `registry.views.request_detail` as it is (NIKs and names already masked there for a
reader not entitled to them): nothing here decides who sees what."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lumbung.errors import LumbungError
from lumbung.registry import vocab
from lumbung.web import i18n

if TYPE_CHECKING:
    from lumbung.registry.views import RequestDetail

# The order a family's and a member's values are listed in: the exchange format's.
HOUSEHOLD_ORDER = {c: n for n, c in enumerate(vocab.HOUSEHOLD_COLUMNS)}
MEMBER_ORDER = {c: n for n, c in enumerate(vocab.MEMBER_COLUMNS)}


@dataclass(frozen=True, slots=True)
class ProposedValue:
    """One field of a proposal: its label, the value it replaces (None: not known, or nothing
    to compare, as for a new member) and the value proposed, each as the reader reads it."""

    label: str
    new: str
    old: str | None = None


@dataclass(frozen=True, slots=True)
class ProposedPart:
    """The values a request proposes for the family or for one member (`who`: the member's
    NIK as the service shows it to the reader)."""

    title: str
    values: list[ProposedValue]
    who: str | None = None
    compared: bool = False  # an `old` column: what the values replace


@dataclass(frozen=True, slots=True)
class Proposed:
    """The parts of a request, and what the `old` column holds: the values now (an open or
    refused request) or before (a determined one)."""

    parts: list[ProposedPart] = field(default_factory=list)
    old_heading: str = ""


def _shown(lang: str, value: Any, column: str) -> str:
    if value is None or value == "":
        return "–"
    return i18n.label(lang, value, column)


def _field(lang: str, column: str) -> str:
    """A column's label (`field.COLUMN`); a column the catalog does not know, as it is."""
    return i18n.CATALOG[lang].get(f"field.{column}", column.replace("_", " "))


def _listing(
    lang: str, values: dict[str, Any], order: dict[str, int], *, skip: tuple[str, ...] = ()
) -> list[ProposedValue]:
    """Every filled value of a new family or member, in the format's order."""
    filled = [(c, v) for c, v in values.items() if c not in skip and v not in (None, "")]
    filled.sort(key=lambda item: order.get(item[0], len(order)))
    return [ProposedValue(_field(lang, c), _shown(lang, v, c)) for c, v in filled]


def proposed(lang: str, detail: RequestDetail) -> Proposed:
    """The request's payload as labelled parts (see the module docstring)."""
    kind, payload = detail.request.kind, detail.payload
    t = i18n.CATALOG[lang]
    determined = detail.request.state == "approved"
    # The family as it is now is shown only to a reader whose region holds it (the service
    # leaves `household_status` empty otherwise): then nothing is compared.
    comparable = detail.household_status is not None
    heading = t["request.before" if determined else "request.now"]
    if kind == "update":
        changes: dict[str, Any] = payload.get("changes") or {}
        values = [
            ProposedValue(
                _field(lang, c),
                _shown(lang, v, c),
                _old(lang, c, detail.current, detail.before, determined) if comparable else None,
            )
            for c, v in changes.items()
        ]
        return Proposed([ProposedPart(t["request.part.family"], values, None, comparable)], heading)
    if kind == "update_member":
        parts = []
        for item in payload.get("members") or []:
            nik = str(item.get("nik") or "")
            now, before = detail.current.get(nik, {}), detail.before.get(nik, {})
            known = comparable and bool(now or before)
            parts.append(
                ProposedPart(
                    t["request.part.member"],
                    [
                        ProposedValue(
                            _field(lang, c),
                            _shown(lang, v, c),
                            _old(lang, c, now, before, determined) if known else None,
                        )
                        for c, v in (item.get("changes") or {}).items()
                    ],
                    nik,
                    known,
                )
            )
        return Proposed(parts, heading)
    if kind == "add_member":
        member = payload.get("member") or {}
        values = _listing(lang, member, MEMBER_ORDER, skip=("kk_number",))
        return Proposed([ProposedPart(t["request.part.new_member"], values)])
    if kind == "remove_member":
        status = str(payload.get("status") or "")
        values = [
            ProposedValue(_field(lang, "nik"), _shown(lang, payload.get("nik"), "nik")),
            ProposedValue(
                t["propose.remove.status"], t.get(f"member.status.{status}", status or "–")
            ),
        ]
        if payload.get("new_head"):
            values.append(ProposedValue(t["propose.remove.new_head"], str(payload["new_head"])))
        if payload.get("reason"):  # a civil registry import says which, and why (civil/)
            values.append(ProposedValue(t["propose.remove.reason"], str(payload["reason"])))
        return Proposed([ProposedPart(t["request.part.leaving"], values)])
    if kind == "update_account":
        from lumbung.identity.masking import mask_account

        card = payload.get("card_number")
        values = [
            ProposedValue(t["propose.account.bank"], str(payload.get("bank") or "–")),
            ProposedValue(
                t["propose.account.account_number"],
                mask_account(str(payload.get("account_number") or "")),
            ),
            ProposedValue(
                t["propose.account.card_number"], mask_account(str(card)) if card else "–"
            ),
        ]
        return Proposed([ProposedPart(t["request.part.account"], values)])
    if kind == "exit":
        reason = ProposedValue(t["propose.exit.reason"], str(payload.get("reason") or "–"))
        return Proposed([ProposedPart(t["request.part.exit"], [reason])])
    if kind == "new_family":
        household = payload.get("household") or {}
        parts = [ProposedPart(t["request.part.family"], _listing(lang, household, HOUSEHOLD_ORDER))]
        for member in payload.get("members") or []:
            parts.append(
                ProposedPart(
                    t["request.part.member"],
                    _listing(lang, member, MEMBER_ORDER, skip=("kk_number", "nik")),
                    str(member.get("nik") or "–"),
                )
            )
        return Proposed(parts)
    return Proposed()


def _old(
    lang: str, column: str, now: dict[str, Any], before: dict[str, Any], determined: bool
) -> str | None:
    """The value a proposed one replaces: for a determined request the value before it (a
    column absent there did not change: it is the value now), else the value now."""
    if determined and column in before:
        return _shown(lang, before[column], column)
    if column in now:
        return _shown(lang, now[column], column)
    return None


# The causes and codes of a refused decision a page has words for (`refusal.<code>` in the
# catalog); any other is said by its class (`LumbungError.code`).
REFUSALS = (
    "family_changed",
    "request_altered",
    "request_decided",
    "conflict",
    "not_found",
    "permission_denied",
    "validation_failed",
)


def refusal_code(error: LumbungError) -> str:
    """The code a page names a refused decision by (what a redirect may carry)."""
    if error.cause in REFUSALS:
        return error.cause
    return error.code if error.code in REFUSALS else "conflict"


def refusal(lang: str, error: LumbungError) -> str:
    """A refused decision in the reader's words: the page's own for a cause it knows (in the
    reader's language), else the service's message."""
    if error.cause in REFUSALS:
        return i18n.translate(lang, f"refusal.{error.cause}")
    return error.message

"""Home, family search, the family page, change-request forms, the request queues."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response
from starlette.routing import Route

from lumbung.auth.roles import Role
from lumbung.errors import LumbungError, NotFound, ValidationFailed
from lumbung.registry import vocab
from lumbung.web.context import Page, page, whole_number
from lumbung.web.proposed import REFUSALS, proposed, refusal, refusal_code

PAGE_SIZE = 25
# Members a new-family form may carry (the form's own count is a loop bound, never trusted).
MOST_MEMBERS = 30
# Queue states each role decides on: verifiers the proposed requests, determiners the verified.
QUEUE_STATE = {Role.VERIFIER: "proposed", Role.DETERMINER: "verified"}


@page("any")
def home(ctx: Page) -> Response:
    from lumbung.registry import views

    actor = ctx.actor
    waiting: list[dict[str, Any]] = []
    state = QUEUE_STATE.get(actor.role)
    if state is not None:
        total = views.requests(ctx.db, actor, status=state, limit=1, offset=0).total
        waiting.append({"key": f"home.queue.{state}", "count": total, "url": "/usulan"})
    family_state = FAMILY_STATE.get(actor.role)
    if family_state is not None:
        count = views.families_by_status(
            ctx.db, actor, status=family_state, limit=1, offset=0
        ).total
        waiting.append({"key": f"home.families.{family_state}", "count": count, "url": "/antrean"})
    if actor.role is Role.OPERATOR:
        mine = views.requests(ctx.db, actor, status="proposed", limit=1, offset=0).total
        waiting.append({"key": "home.mine.proposed", "count": mine, "url": "/usulan"})
        rejected = views.requests(ctx.db, actor, status="rejected", limit=1, offset=0).total
        waiting.append(
            {"key": "home.mine.rejected", "count": rejected, "url": "/usulan?status=rejected"}
        )
    if actor.role is Role.DETERMINER:
        from lumbung.cycles.listing import list_cycles

        # Those this determiner may approve: run by another (four eyes).
        drafts = [
            c
            for c in list_cycles(ctx.db, actor)
            if c.state == "draft" and c.created_by != actor.username
        ]
        waiting.append({"key": "home.cycles.draft", "count": len(drafts), "url": "/siklus"})
    if actor.role is Role.VERIFIER:
        from lumbung.linkage.review import pending_count

        waiting.append(
            {"key": "home.link.pending", "count": pending_count(ctx.db, actor), "url": "/kemiripan"}
        )
    jobs_with_errors: list[Any] = []
    if ctx.may("import"):
        from lumbung.jobs import service as jobs

        recent = jobs.list_jobs(ctx.db, actor, limit=20, offset=0).items
        jobs_with_errors = [
            j
            for j in recent
            if j.kind == "import" and (j.state == "failed" or _rejected(j.result or {}) > 0)
        ]
        waiting.append(
            {"key": "home.imports.errors", "count": len(jobs_with_errors), "url": "/impor"}
        )
    stats = views.stats(ctx.db, actor)
    return ctx.render(
        "home.html",
        waiting=waiting,
        jobs_with_errors=jobs_with_errors,
        stats=stats,
        password_changed=ctx.query("sandi") == "baru",
    )


def _rejected(result: dict[str, Any]) -> int:
    return int(result.get("households_rejected", 0) or 0) + int(
        result.get("members_rejected", 0) or 0
    )


@page("read")
def search(ctx: Page) -> Response:
    """One box: a 16-digit number is a KK or a NIK (the KK is tried first), anything else a
    name, searched within the reader's region (and a narrower region if given)."""
    from lumbung.registry import views

    text = ctx.query("q")
    region = ctx.query("wilayah") or None
    offset = ctx.int_query("offset", 0)
    results = None
    error = None
    if text:
        if text.isdigit() and len(text) == 16:
            try:
                found = views.family(ctx.db, ctx.actor, kk=text)
            except NotFound:
                try:
                    found = views.family_by_nik(ctx.db, ctx.actor, nik=text)
                except NotFound:
                    # Neither a KK nor a NIK of the reader's region (the number as typed: the
                    # reader knows it; nothing said of other regions).
                    error = ctx.t("search.no_number", number=text)
                    found = None
            if found is not None:
                return ctx.redirect(f"/keluarga/{found.kk_number}")
        else:
            try:
                results = views.search_families(
                    ctx.db,
                    ctx.actor,
                    name=text,
                    region=region,
                    limit=PAGE_SIZE,
                    offset=offset,
                )
            except ValidationFailed as invalid:
                error = invalid.message
    query = urlencode({k: v for k, v in (("q", text), ("wilayah", region or "")) if v})
    return ctx.render(
        "search.html",
        q=text,
        region=region or "",
        results=results,
        error=error,
        query=query,
        regions=ctx.region_names(f.village_code for f in (results.items if results else [])),
    )


@page("read")
def family_page(ctx: Page) -> Response:
    """The family as the services show it to this reader (NIKs and names masked there for a
    role not entitled to them), with its desil and entitlements."""
    from lumbung.cycles.listing import family_benefits_and_cycles
    from lumbung.registry import views

    kk = ctx.request.path_params["kk"]
    view = views.family(ctx.db, ctx.actor, kk=kk)
    history = views.history(ctx.db, ctx.actor, kk=kk)
    benefits, cycles = family_benefits_and_cycles(ctx.db, ctx.actor, kk=kk)
    open_requests = views.requests(
        ctx.db, ctx.actor, status="proposed", kk=view.kk_number, limit=100, offset=0
    ).items
    return ctx.render(
        "family.html",
        view=view,
        members=view.members,
        history=history,
        benefits=benefits,
        cycles=cycles,
        requests=open_requests,
        housing=[c for c in view.household if c not in ("kk_number", "village_code")],
        regions=ctx.region_names(
            (view.village_code, view.district_code, view.regency_code, view.province_code)
        ),
    )


# The change-request forms. Each kind's fields: those of the exchange format (docs/FORMATS.md).
HOUSEHOLD_FIELDS = [c for c in vocab.HOUSEHOLD_COLUMNS if c != "kk_number"]
MEMBER_FIELDS = [c for c in vocab.MEMBER_COLUMNS if c != "kk_number"]
REMOVE_STATUSES = ("deceased", "moved", "removed")


def _choices(column: str) -> tuple[str, ...] | None:
    if column in vocab.HOUSEHOLD_ENUMS:
        return vocab.HOUSEHOLD_ENUMS[column]
    if column in vocab.MEMBER_ENUMS:
        return vocab.MEMBER_ENUMS[column]
    if column in vocab.HOUSEHOLD_FLAGS or column in vocab.MEMBER_FLAGS:
        return ("0", "1")
    return None


def _values(ctx: Page, prefix: str, columns: list[str], *, only_filled: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for column in columns:
        value = ctx.field(prefix + column)
        if value or not only_filled:
            out[column] = value
    return out


def _payload(ctx: Page, kind: str) -> dict[str, Any]:
    """The request's payload from the form, in the shape `request propose` takes."""
    if kind == "update":
        return {"changes": _values(ctx, "h.", HOUSEHOLD_FIELDS, only_filled=True)}
    if kind == "update_member":
        return {
            "nik": ctx.field("nik"),
            "changes": _values(ctx, "m.", MEMBER_FIELDS, only_filled=True),
        }
    if kind == "add_member":
        member = _values(ctx, "m.", MEMBER_FIELDS, only_filled=False)
        if not member.get("mother_name"):
            member.pop("mother_name", None)
        return {"member": member}
    if kind == "remove_member":
        payload: dict[str, Any] = {"nik": ctx.field("nik"), "status": ctx.field("status")}
        if ctx.field("new_head"):
            payload["new_head"] = ctx.field("new_head")
        return payload
    if kind == "exit":
        return {"reason": ctx.field("reason")}
    if kind == "update_account":
        return {
            "bank": ctx.field("bank"),
            "account_number": ctx.field("account_number"),
            "card_number": ctx.field("card_number") or None,
        }
    if kind == "new_family":
        household = _values(ctx, "h.", HOUSEHOLD_FIELDS, only_filled=False)
        household["kk_number"] = ctx.field("kk_number")
        members = []
        for i in range(ctx.int_field("member_count", 1, most=MOST_MEMBERS)):
            member = _values(ctx, f"m{i}.", MEMBER_FIELDS, only_filled=False)
            if any(member.values()):
                member["kk_number"] = household["kk_number"]
                members.append(member)
        return {"household": household, "members": members}
    raise ValidationFailed(f"Jenis usulan tidak dikenal: {kind}")


@page("propose")
def propose_page(ctx: Page) -> Response:
    from lumbung.registry import proposals, views

    kind = ctx.request.path_params["kind"]
    if kind not in vocab.REQUEST_KINDS:
        raise NotFound(f"Jenis usulan tidak dikenal: {kind}")
    kk = ctx.query("kk") or ctx.field("kk")
    view = views.family(ctx.db, ctx.actor, kk=kk) if kind != "new_family" else None
    error = None
    problems: list[dict[str, Any]] = []
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                proposal = proposals.propose(
                    ctx.db,
                    actor=ctx.actor,
                    kind=kind,
                    payload=_payload(ctx, kind),
                    kk_number=kk or None,
                    base_version=ctx.int_field("version", 0) if ctx.field("version") else None,
                )
        except LumbungError as refused:
            error = refused.message
            problems = refused.details
        else:
            warnings = "&peringatan=" + str(len(proposal.warnings)) if proposal.warnings else ""
            return ctx.redirect(f"/usulan/{proposal.request.id}?baru=1{warnings}")
    # The summary in the order of the form's fields (the KK first, each member after the
    # family), as a reader goes through it.
    order = ["kk_number", *HOUSEHOLD_FIELDS, "nik", *MEMBER_FIELDS]
    problems = sorted(
        problems,
        key=lambda p: (
            int(p.get("member") or 0),
            order.index(p["column"]) if p.get("column") in order else len(order),
        ),
    )
    by_column: dict[str, list[str]] = {}
    for p in problems:
        if p.get("column"):
            key = p["column"] if p.get("member") is None else f"{p['member']}.{p['column']}"
            # Beside its field, an empty required field says so in the reader's words (the
            # summary above keeps the check's own message); each message once per field.
            said = ctx.t("form.required") if p.get("code") == "required" else p.get("message")
            for where in {key, p["column"]}:
                shown = by_column.setdefault(where, [])
                if str(said) not in shown:
                    shown.append(str(said))
    values = {k: v for k, v in (ctx.form.items() if ctx.form is not None else []) if k != "csrf"}
    return ctx.render(
        "propose.html",
        status=422 if error else 200,
        kind=kind,
        view=view,
        kk=kk,
        error=error,
        problems=problems,
        by_column=by_column,
        values=values,
        household_fields=HOUSEHOLD_FIELDS,
        member_fields=MEMBER_FIELDS,
        choices=_choices,
        remove_statuses=REMOVE_STATUSES,
        banks=_banks(ctx) if kind == "update_account" else [],
        member_count=max(
            1,
            min(
                ctx.int_query("anggota", 0) or ctx.int_field("member_count", 1),
                MOST_MEMBERS,
            ),
        ),
    )


def _banks(ctx: Page) -> list[str]:
    from lumbung.delivery.partners import list_partners

    return [p.code for p in list_partners(ctx.db, ctx.actor) if p.channel == "bank"]


@page("read")
def queue(ctx: Page) -> Response:
    return _queue(ctx)


def _queue(ctx: Page, error: str | None = None) -> Response:
    """The request queue; after a refused bulk decision, with its message and the ticks kept."""
    from lumbung.registry import views

    default = QUEUE_STATE.get(ctx.actor.role, "proposed")
    status = ctx.query("status", default)
    if status not in vocab.REQUEST_STATES:
        status = default
    offset = ctx.int_query("offset", 0)
    listing = views.requests(
        ctx.db,
        ctx.actor,
        status=status,
        region=ctx.query("wilayah") or None,
        limit=PAGE_SIZE,
        offset=offset,
    )
    decides = QUEUE_STATE.get(ctx.actor.role) == status
    return ctx.render(
        "queue.html",
        status=422 if error else 200,
        listing=listing,
        page=listing,
        state=status,
        decides=decides,
        query=urlencode({"status": status}),
        done=whole_number(ctx.query("selesai"), 0),
        refused=refusals_of(ctx.query("gagal")),
        error=error,
        ticked=set(ctx.fields("ids")),
        reason=ctx.field("reason"),
        regions=ctx.region_names(r.village_code for r in listing.items),
    )


# The family status each role decides on in bulk (registry/decisions.py), and its decisions.
FAMILY_STATE = {Role.VERIFIER: "proposed", Role.DETERMINER: "verified"}
FAMILY_DECISIONS = {"proposed": ("verify", "reject"), "verified": ("determine", "return")}


@page("read")
def families_queue(ctx: Page) -> Response:
    """Imported families by status within the reader's region; the verifier verifies or
    rejects the proposed ones, the determiner determines (or returns) the verified ones: the
    ticked ones, or all of the region at once."""
    from lumbung.registry import decisions, views

    default = FAMILY_STATE.get(ctx.actor.role, "proposed")
    status = ctx.query("status", default)
    if status not in vocab.HOUSEHOLD_STATUS:
        status = default
    region = ctx.query("wilayah") or None
    decides = FAMILY_STATE.get(ctx.actor.role) == status
    error = None
    ticked = ctx.fields("kk")
    if ctx.form is not None:
        accept, refuse = FAMILY_DECISIONS.get(status, ("", ""))
        decision = refuse if ctx.field("decision") == "reject" else accept
        everything = ctx.field("scope") == "region"
        reason = ctx.field("reason")
        if not decides:
            error = ctx.t("families.not_yours")
        elif not everything and not ticked:
            error = ctx.t("families.none_selected")
        elif decision == refuse and not reason:
            error = ctx.t("queue.reason_needed")
        else:
            try:
                with ctx.db.begin_nested():
                    result = decisions.decide(
                        ctx.db,
                        actor=ctx.actor,
                        decision=decision,
                        region_code=region,
                        reason=reason or None,
                        kk_numbers=None if everything else ticked,
                    )
            except LumbungError as refused:
                error = refused.message
            else:
                done = {"status": status, "selesai": result.households}
                if region:
                    done["wilayah"] = region
                return ctx.redirect("/antrean?" + urlencode(done))
    offset = ctx.int_query("offset", 0)
    listing = views.families_by_status(
        ctx.db, ctx.actor, status=status, region=region, limit=PAGE_SIZE, offset=offset
    )
    query = urlencode({k: v for k, v in (("status", status), ("wilayah", region or "")) if v})
    return ctx.render(
        "families_queue.html",
        status=422 if error else 200,
        listing=listing,
        page=listing,
        state=status,
        region=region or "",
        decides=decides,
        query=query,
        error=error,
        ticked=set(ticked),
        reason=ctx.field("reason"),
        done=whole_number(ctx.query("selesai"), 0),
        regions=ctx.region_names(f.village_code for f in listing.items),
    )


def _decide(ctx: Page, request_id: int, decision: str, reason: str) -> None:
    from lumbung.registry import workflow

    if decision == "reject":
        workflow.reject(ctx.db, actor=ctx.actor, request_id=request_id, reason=reason)
    elif ctx.actor.role is Role.VERIFIER:
        workflow.verify(ctx.db, actor=ctx.actor, request_id=request_id)
    else:
        workflow.determine(ctx.db, actor=ctx.actor, request_id=request_id)


@page("read")
def decide_bulk(ctx: Page) -> Response:
    """Accept or reject the ticked requests; each decided in its own savepoint, so that one
    refused (changed meanwhile, say) does not undo the others; the refusals are listed."""
    decision = "reject" if ctx.field("decision") == "reject" else "accept"
    reason = ctx.field("reason")
    ids = [whole_number(i, 0) for i in ctx.fields("ids")]
    ids = [i for i in ids if i > 0]
    if not ids:
        return _queue(ctx, ctx.t("queue.none_selected"))
    if decision == "reject" and not reason:
        return _queue(ctx, ctx.t("queue.reason_needed"))
    done, failed = 0, []
    for request_id in ids:
        try:
            with ctx.db.begin_nested():
                _decide(ctx, request_id, decision, reason)
            done += 1
        except LumbungError as refused:
            failed.append(f"{request_id}:{refusal_code(refused)}")
    # The refusals travel as codes, never as text: a link cannot make the page say anything.
    listing = {"selesai": done, **({"gagal": ",".join(failed)} if failed else {})}
    return ctx.redirect("/usulan?" + urlencode(listing))


MOST_REFUSALS = 100  # listed after one bulk decision (the page's rows are fewer)


def refusals_of(raw: str) -> list[tuple[int, str]]:
    """The refused requests a redirect names (`ID:CODE,…`): each a request's number and a code
    the catalog has words for; anything else is left out."""
    found = []
    for item in raw.split(",")[:MOST_REFUSALS]:
        number, _, code = item.partition(":")
        request_id = whole_number(number, 0)
        if request_id > 0 and code in REFUSALS:
            found.append((request_id, code))
    return found


@page("read")
def request_page(ctx: Page) -> Response:
    from lumbung.registry import views

    request_id = int(ctx.request.path_params["request_id"])
    error = None
    if ctx.form is not None:
        decision = "reject" if ctx.field("decision") == "reject" else "accept"
        try:
            with ctx.db.begin_nested():
                _decide(ctx, request_id, decision, ctx.field("reason"))
        except LumbungError as refused:
            error = refusal(ctx.lang, refused)
        else:
            return ctx.redirect(f"/usulan/{request_id}")
    detail = views.request_detail(ctx.db, ctx.actor, request_id=request_id)
    return ctx.render(
        "request.html",
        status=422 if error else 200,
        detail=detail,
        error=error,
        decides=QUEUE_STATE.get(ctx.actor.role) == detail.request.state,
        created=ctx.query("baru") == "1",
        proposed=proposed(ctx.lang, detail),
        regions=ctx.region_names((detail.request.village_code,)),
    )


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/keluarga", search, methods=["GET"]),
    Route("/antrean", families_queue, methods=["GET", "POST"]),
    Route("/keluarga/{kk}", family_page, methods=["GET"]),
    Route("/usulan", queue, methods=["GET"]),
    Route("/usulan/putuskan", decide_bulk, methods=["POST"]),
    Route("/usulan/baru/{kind}", propose_page, methods=["GET", "POST"]),
    Route("/usulan/{request_id:int}", request_page, methods=["GET", "POST"]),
]

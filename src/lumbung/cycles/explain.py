"""Why a family got what it got in a cycle: the explanation a grievance officer shows.

Recomputed from the same release, scores, model and the program definition stored with the
cycle (not today's file), for the one family: its features, each PMT term's contribution,
its desil in the regency, every clause of the eligibility rule with its value, each member's
components (counted, or dropped by which cap), and the amount the cycle stored. The files
it reads (scores, the enrollment saved with the cycle) are checked against their hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ibis
from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.cycles import compute
from lumbung.cycles.files import cycle_folder, saved_enrollment
from lumbung.cycles.models import Cycle, Entitlement, components
from lumbung.engine.backend import open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import NotFound
from lumbung.identity.masking import mask_id, mask_name
from lumbung.identity.nik import require_kk
from lumbung.installation.datafolder import owned
from lumbung.programs.definition import ProgramDefinition
from lumbung.releases.models import Release
from lumbung.targeting.features import household_features, member_features, read_release
from lumbung.targeting.models import PmtModelRecord, Scoring
from lumbung.targeting.pmt import PmtModel
from lumbung.targeting.service import checked_scores_file
from lumbung.targeting.vocabulary import HOUSEHOLD_FEATURES


def explain(
    session: Session, *, actor: User, cycle_label: str, kk_number: str, data_dir: Path
) -> dict[str, Any]:
    """The whole explanation as data (see module docstring); JSON-ready."""
    require_kk(kk_number)
    owned(session, data_dir)  # another registry's files would explain another registry
    cycle = session.execute(select(Cycle).where(Cycle.label == cycle_label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {cycle_label} tidak ada.")

    def stored_for(beneficiaries: list[int]) -> Sequence[Entitlement]:
        # Found through the unique (cycle, beneficiary) index: the family, or its members.
        return (
            session.execute(
                select(Entitlement).where(
                    Entitlement.cycle_id == cycle.id,
                    Entitlement.beneficiary_id.in_(beneficiaries),
                )
            )
            .scalars()
            .all()
        )

    return explain_family(
        session,
        actor=actor,
        cycle=cycle,
        kk_number=kk_number,
        data_dir=data_dir,
        stored_for=stored_for,
    )


def explain_family(
    session: Session,
    *,
    actor: User,
    cycle: Cycle,
    kk_number: str,
    data_dir: Path,
    stored_for: Callable[[list[int]], Sequence[Entitlement]],
) -> dict[str, Any]:
    """The explanation of one family in `cycle` (a stored cycle, or a simulation's program
    as a cycle that is never stored: simulation/explain.py), its entitlements from
    `stored_for(beneficiary ids)`."""
    release = session.get(Release, cycle.release_id)
    scoring = session.get(Scoring, cycle.scoring_id)
    assert release is not None
    assert scoring is not None
    record = session.get(PmtModelRecord, scoring.model_id)
    assert record is not None
    model = PmtModel.model_validate(record.definition)
    definition = ProgramDefinition.model_validate(cycle.definition)
    release_dir = data_dir / "releases" / release.label
    with open_engine(EngineName.DUCKDB) as batch:
        tables = read_release(batch, release_dir)
        households = tables.households.filter(tables.households.kk_number == kk_number)
        found = batch.to_arrow(households.select("village_code", "id")).to_pylist()
        if not found:
            raise NotFound(f"KK {mask_id(kk_number)} tidak ada di rilis {release.label}.")
        authorize(actor, Action.READ)
        if not in_scope(actor.region_code, found[0]["village_code"]):
            # The same answer as for a KK that is not there: where a family lives is not
            # told to someone outside its region.
            raise NotFound(f"KK {mask_id(kk_number)} tidak ada di rilis {release.label}.")
        members = tables.members.filter(tables.members.kk_number == kk_number)
        beneficiaries = (
            [found[0]["id"]]
            if definition.unit == "household"
            else batch.to_arrow(members.select("id")).column("id").to_pylist()
        )
        stored = stored_for(beneficiaries)
        one = type(tables)(households, members)
        features = household_features(one, cycle.reference_date)
        all_scores = batch.read_parquet([checked_scores_file(scoring, data_dir)])
        scores = all_scores.filter(all_scores.kk_number == kk_number)
        score_row = batch.to_arrow(
            scores.select("score", "decile", "rank_area", "regency_code")
        ).to_pylist()
        # Out of how many: a rank (and a desil) among few families says little.
        in_regency = all_scores.filter(all_scores.regency_code == score_row[0]["regency_code"])
        counted = batch.to_arrow(in_regency.aggregate(n=in_regency.count()))
        regency_households = int(counted.column("n")[0].as_py())
        feature_row = batch.to_arrow(features).to_pylist()[0]
        terms = model.terms(features)
        contributions = batch.to_arrow(features.select(**terms)).to_pylist()[0] if terms else {}
        ranked = features.mutate(
            score=ibis.literal(score_row[0]["score"], "float64"),
            decile=ibis.literal(score_row[0]["decile"], "int16"),
        )
        rule = compute.eligibility(definition)
        # Enrollment as it was when the cycle ran, not as it is today.
        cycle_dir = cycle_folder(cycle, data_dir)
        enrolled = {
            code: batch.table(rows, "enrolled")
            for code, rows in saved_enrollment(cycle_dir, rule.programs).items()
        }
        with_flags = compute.with_enrollment(ranked, rule, enrolled)
        clause_values = batch.to_arrow(
            with_flags.select(
                **{
                    f"clause_{i}": compute.compile_eligibility(clause, with_flags)
                    for i, clause in enumerate(rule.clauses())
                },
                eligible=compute.compile_eligibility(rule, with_flags),
            )
        ).to_pylist()[0]
        member_rows = _members(
            batch,
            cycle,
            definition,
            member_features(members, cycle.reference_date),
            members,
            eligible=bool(clause_values["eligible"]),
            stored=stored,
        )
    amount = sum(e.amount_idr for e in stored)
    eligible = bool(clause_values.pop("eligible"))
    clauses = [
        {"rule": clause.text, "value": bool(clause_values[f"clause_{i}"])}
        for i, clause in enumerate(rule.clauses())
    ]
    payable = _payable(member_rows, definition)
    return {
        "cycle": cycle.label,
        "program": cycle.program_code,
        "release": release.label,
        "kk_number": kk_number,
        "regency_code": feature_row["regency_code"],
        "reference_date": cycle.reference_date.isoformat(),
        "eligible": eligible,
        "entitled": bool(stored),
        "amount_idr": amount,
        "score": score_row[0]["score"],
        "decile": score_row[0]["decile"],
        "rank_in_regency": score_row[0]["rank_area"],
        "regency_households": regency_households,
        "model": record.name + "@" + record.version,
        "score_terms": {"intercept": model.intercept, **contributions},
        "features": {k: feature_row[k] for k in HOUSEHOLD_FEATURES if k in feature_row},
        "eligibility": definition.eligibility.strip(),
        "clauses": clauses,
        "failed_clauses": [c["rule"] for c in clauses if not c["value"]],
        "components": _breakdown(stored, cycle),
        "component_labels": {p.name: p.label for p in compute.components(definition)},
        "members": member_rows,
        "outcome": _outcome(eligible, stored, member_rows, definition),
        "quota": None
        if definition.quota is None
        else {
            "level": definition.quota.level,
            "within_quota": bool(stored) if eligible and payable else None,
        },
    }


def _outcome(
    eligible: bool,
    stored: Sequence[Entitlement],
    members: list[dict[str, Any]],
    definition: ProgramDefinition,
) -> str:
    """entitled · not_eligible · nothing_payable (eligible, but no member meets a component)
    · outside_quota (eligible and payable, but past the region's quota)."""
    if stored:
        return "entitled"
    if not eligible:
        return "not_eligible"
    if not _payable(members, definition):
        return "nothing_payable"
    return "outside_quota" if definition.quota is not None else "nothing_payable"


def _payable(members: list[dict[str, Any]], definition: ProgramDefinition) -> bool:
    if definition.benefit.kind in ("components", "in_kind"):
        return any(m["qualifies_for"] for m in members)
    return True


def _breakdown(stored: Sequence[Entitlement], cycle: Cycle) -> dict[str, Any]:
    merged: dict[str, dict[str, int]] = {}
    for entitlement in stored:
        for name, part in components(entitlement, cycle).items():
            into = merged.setdefault(name, {"persons": 0, "amount_idr": 0})
            into["persons"] += int(part["persons"])
            into["amount_idr"] += int(part["amount_idr"])
    return merged


def _members(
    batch: Any,
    cycle: Cycle,
    definition: ProgramDefinition,
    members: Any,
    raw_members: Any,
    *,
    eligible: bool,
    stored: Sequence[Entitlement],
) -> list[dict[str, Any]]:
    """Each member: masked name and NIK, age, the components it qualifies for, the one it
    counts for, and why a qualifying member is not counted (a cap)."""
    parts = compute.components(definition)
    qualifies = {p.name: p.when.to_ibis(lambda n: members[n]) for p in parts}
    base = batch.to_arrow(
        members.select(
            "member_id", "nik", "age", **{f"q__{k}": v for k, v in qualifies.items()}
        ).order_by("member_id")
    ).to_pylist()
    names = {
        r["id"]: r["name"] for r in batch.to_arrow(raw_members.select("id", "name")).to_pylist()
    }
    choice: dict[int, dict[str, Any]] = {}
    cap = getattr(definition.benefit, "max_persons", None)
    paid = {e.member_id: e for e in stored if e.member_id is not None}
    if eligible and definition.unit == "household" and definition.benefit.kind == "components":
        max_persons = cap
        chosen = compute.member_choices(members, parts, max_persons)
        for row in batch.to_arrow(
            chosen.select("member_id", "chosen", "amount", "capped_out", "counted")
        ).to_pylist():
            choice[row["member_id"]] = row
    # A flat amount for the family is nobody's in particular: no member qualifies for it.
    per_family = definition.unit == "household" and definition.benefit.kind == "flat"
    out = []
    for row in base:
        qualified = [] if per_family else [p.name for p in parts if row[f"q__{p.name}"]]
        picked = choice.get(row["member_id"])
        entry: dict[str, Any] = {
            "name": mask_name(names.get(row["member_id"], "")),
            "nik": mask_id(row["nik"], distinct=True),
            "age": row["age"],
            "qualifies_for": qualified,
            "counted_as": None,
            "amount_idr": 0,
            "note": None,
        }
        if not eligible:
            entry["note"] = "keluarga tidak memenuhi syarat program"
        elif row["member_id"] in paid:
            own = paid[row["member_id"]]
            entry["counted_as"] = ", ".join(components(own, cycle)) or None
            entry["amount_idr"] = own.amount_idr
        elif picked is not None:
            if picked["counted"]:
                entry["counted_as"] = picked["chosen"]
                entry["amount_idr"] = int(picked["amount"])
                if picked["capped_out"]:
                    entry["note"] = "komponen utamanya sudah penuh; dihitung untuk komponen lain"
            elif picked["capped_out"] and not picked["amount"]:
                best = next(p for p in parts if p.name in qualified and p.max_persons)
                entry["note"] = (
                    f"tidak dihitung: komponen {best.label} sudah penuh "
                    f"(paling banyak {best.max_persons} orang per keluarga)"
                )
            else:
                entry["note"] = f"tidak dihitung: melebihi batas {cap} orang per keluarga"
        out.append(entry)
    return out

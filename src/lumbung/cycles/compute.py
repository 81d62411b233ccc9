"""Who is entitled to how much in one cycle: a program definition compiled to one engine query.

Input: household features with PMT score and desil, member features, the households enrolled
in other programs, the program's quota. Output: one row per beneficiary with the amount in
integer rupiah and, per component, the persons counted and their amount (wide columns
`c__NAME__persons`, `c__NAME__amount`). Everything is set-based; nothing loops over families.

Components with caps (PKH): each member counts for the best-paying component it qualifies for.
Where a component is full (its `max_persons`), the members kept in it are those with the least
to fall back on; the others count for their best uncapped component instead. Then the family's
best-paying members are counted, up to the program's `max_persons`. Amounts per component are
fixed, so this gives the family the combination that pays most (as long as a member qualifies
for at most one capped component, which holds for PKH: pregnancy and early childhood).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from lumbung.programs.definition import ProgramDefinition
from lumbung.programs.language import Rule, household_vocabulary, member_vocabulary, parse_rule
from lumbung.targeting.features import age_comparison


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    label: str
    when: Rule
    amount_idr: int  # per cycle
    max_persons: int | None


def component_columns(name: str) -> tuple[str, str]:
    return f"c__{name}__persons", f"c__{name}__amount"


def components(definition: ProgramDefinition) -> list[Component]:
    """The definition's benefit as components with per-cycle amounts (one for flat kinds)."""
    benefit = definition.benefit
    vocabulary = member_vocabulary()
    if benefit.kind == "components":
        return [
            Component(
                c.name,
                c.label or c.name,
                parse_rule(c.when, vocabulary),
                definition.amount_per_cycle(c.amount_idr, annual=benefit.annual),
                c.max_persons,
            )
            for c in benefit.components
        ]
    if benefit.kind == "in_kind":
        return [
            Component(
                i.name, i.label or i.name, parse_rule(i.when, vocabulary), i.unit_value_idr, None
            )
            for i in benefit.items
        ]
    name = "bantuan" if benefit.kind == "flat" else "per_orang"
    everyone = parse_rule("True", vocabulary)
    return [Component(name, name, everyone, definition.amount_per_cycle(benefit.monthly_idr), None)]


def features_used(definition: ProgramDefinition) -> frozenset[str]:
    """The household features a cycle of this program needs (the rest is not computed)."""
    used = set(eligibility(definition).names)
    if definition.benefit.kind == "per_person" and definition.unit == "household":
        used.add("hh_size")
    return frozenset(used)


def eligibility(definition: ProgramDefinition) -> Rule:
    return parse_rule(definition.eligibility, household_vocabulary())


def enrolled_flag(code: str) -> str:
    return f"enrolled__{code.replace('-', '_').lower()}"


def with_enrollment(households: ir.Table, rule: Rule, enrolled: Mapping[str, ir.Table]) -> ir.Table:
    """The households with one boolean column per program the rule asks about."""
    for code in sorted(rule.programs):
        flag = enrolled_flag(code)
        if code not in enrolled:
            households = households.mutate(**{flag: ibis.literal(False)})
            continue
        members = enrolled[code].select(enrolled_household=enrolled[code].household_id).distinct()
        joined = households.left_join(
            members, households.household_id == members.enrolled_household
        )
        households = joined.mutate(**{flag: joined.enrolled_household.notnull()}).drop(
            "enrolled_household"
        )
    return households


def compile_eligibility(rule: Rule, table: ir.Table, *, condition: bool = False) -> ir.BooleanValue:
    """The rule's value per household (unknown: false), or only as a `condition` to filter on."""
    value: ir.BooleanValue = rule.to_ibis(
        lambda name: table[name], lambda code: table[enrolled_flag(code)], condition=condition
    )
    return value


def eligible_households(
    definition: ProgramDefinition, households: ir.Table, enrolled: Mapping[str, ir.Table]
) -> ir.Table:
    rule = eligibility(definition)
    table = with_enrollment(households, rule, enrolled)
    # As a bare condition: its conjuncts are separate filters to DuckDB's planner, which then
    # sees how few households pass and builds its join tables on them, not on the members.
    return table.filter(compile_eligibility(rule, table, condition=True))


def _member_condition(rule: Rule, members: ir.Table, reference: date | None) -> ir.BooleanValue:
    """A member rule as a condition (unknown is not true), ages compared by birth date."""
    value: ir.BooleanValue = rule.to_ibis(
        lambda name: members[name], compare=age_comparison(members, reference), condition=True
    )
    return value


def _first(options: Sequence[tuple[ir.BooleanValue, Any]], default: Any) -> Any:
    if not options:
        return default
    return ibis.cases(*options, else_=default)


def member_choices(
    members: ir.Table,
    parts: list[Component],
    max_persons: int | None,
    reference: date | None = None,
) -> ir.Table:
    """Members with the component each counts for (`chosen`, `amount`) and whether it is
    counted under the family's cap (`counted`); members qualifying for nothing are left out
    first, so that the windows rank only the members who count for something."""
    qualifies = {c.name: _member_condition(c.when, members, reference) for c in parts}
    members = members.filter(ibis.or_(*qualifies.values()))
    members = members.mutate(**{f"q__{c.name}": qualifies[c.name] for c in parts})
    ranked = sorted(
        enumerate(parts), key=lambda ic: (-ic[1].amount_idr, ic[1].max_persons is not None, ic[0])
    )
    no_name = ibis.null("string")
    zero = ibis.literal(0, "int64")
    q = {c.name: members[f"q__{c.name}"] for c in parts}
    best_name = _first([(q[c.name], c.name) for _, c in ranked], no_name)
    best_amount = _first(
        [(q[c.name], ibis.literal(c.amount_idr, "int64")) for _, c in ranked], zero
    )
    uncapped = [(i, c) for i, c in ranked if c.max_persons is None]
    fall_name = _first([(q[c.name], c.name) for _, c in uncapped], no_name)
    fall_amount = _first(
        [(q[c.name], ibis.literal(c.amount_idr, "int64")) for _, c in uncapped], zero
    )
    step = members.mutate(
        best=best_name, best_amount=best_amount, fallback=fall_name, fallback_amount=fall_amount
    )
    capped = [c for c in parts if c.max_persons is not None]
    if capped:
        window = ibis.window(
            group_by=[step.household_id, step.best],
            order_by=[step.fallback_amount, step.member_id],
        )
        step = step.mutate(place=ibis.row_number().over(window))
        cap = _first(
            [(step.best == c.name, ibis.literal(c.max_persons, "int64")) for c in capped],
            ibis.null("int64"),
        )
        full = cap.notnull() & (step.place >= cap)
        step = step.mutate(
            chosen=full.ifelse(step.fallback, step.best),
            amount=full.ifelse(step.fallback_amount, step.best_amount),
            capped_out=full,
        )
    else:
        step = step.mutate(
            chosen=step.best, amount=step.best_amount, capped_out=ibis.literal(False)
        )
    family = ibis.window(
        group_by=step.household_id, order_by=[ibis.desc(step.amount), step.member_id]
    )
    step = step.mutate(order_in_family=ibis.row_number().over(family))
    counted = step.amount > 0
    if max_persons is not None:
        counted = counted & (step.order_in_family < max_persons)
    return step.mutate(counted=counted)


KEYS = ("kk_number", "regency_code", "province_code", "score", "decile")
"""What every beneficiary row carries from its family, besides the household id."""


def entitlements(
    definition: ProgramDefinition,
    households: ir.Table,
    members: ir.Table,
    enrolled: Mapping[str, ir.Table],
    quota: ir.Table | None = None,
    ranking: ir.Table | None = None,
    reference: date | None = None,
) -> ir.Table:
    """One row per beneficiary (household or member, by the program's unit).

    `households` carry the family's `KEYS` (KK, region, score, desil). Where the eligible
    households are used once anyway (a flat benefit per household, or a program of persons),
    the rows take the keys with them: one join of the members with the eligible households,
    and none after. A household program whose members are counted (PKH) groups the members
    by household first, so its rows get the keys joined back at the end, from `ranking` (default:
    `households`) rather than from the eligible households: the eligible set is then used once
    and computed once.

    `reference` (the cycle's reference date), when the members carry their birth date, lets
    member rules compare ages as birth-date ranges (`features.age_comparison`).
    """
    eligible = eligible_households(definition, households, enrolled)
    eligible = _small_decile(eligible)
    parts = components(definition)
    benefit = definition.benefit
    person = definition.unit == "person"
    if person:
        in_family = _in_families(members.drop("kk_number"), eligible.select("household_id", *KEYS))
        joined = _paid(_person_rows(definition, in_family, parts, reference))
    elif benefit.kind in ("components", "in_kind"):
        in_family = _in_families(members.drop("kk_number", "nik"), eligible.select("household_id"))
        paid = _paid(_component_rows(in_family, parts, benefit, reference))
        source = households if ranking is None else ranking
        keys = _small_decile(source).select("household_id", *KEYS)
        keys = keys.rename(eligible_household="household_id")
        # Paid families only, before the join: fewer rows to join.
        joined = paid.inner_join(keys, paid.household_id == keys.eligible_household)
    else:
        joined = _paid(_flat_rows(eligible, parts[0], benefit))
    rows = joined.select(
        beneficiary_id=joined.member_id if person else joined.household_id,
        household_id=joined.household_id,
        member_id=joined.member_id if person else ibis.null("int64"),
        kk_number=joined.kk_number,
        nik=joined.nik if person else ibis.null("string"),
        regency_code=joined.regency_code,
        province_code=joined.province_code,
        score=joined.score,
        decile=joined.decile,
        amount_idr=joined.amount_idr,
        **{name: joined[name] for p in parts for name in component_columns(p.name)},
    )
    if quota is not None and definition.quota is not None:
        rows = _within_quota(rows, quota, definition.quota)
    return rows


def _small_decile(households: ir.Table) -> ir.Table:
    return households.mutate(decile=households.decile.cast("int16"))


def _in_families(members: ir.Table, families: ir.Table) -> ir.Table:
    """The members of `families` (one row per household), with the families' other columns.
    An inner join, not a semi-join: the rows are the same, and DuckDB builds its hash table on
    the (fewer) households, not the members."""
    chosen = families.rename(eligible_household="household_id")
    return members.inner_join(chosen, members.household_id == chosen.eligible_household).drop(
        "eligible_household"
    )


def _paid(rows: ir.Table) -> ir.Table:
    """The rows with something to pay."""
    return rows.filter(rows.amount_idr > 0)


def _person_rows(
    definition: ProgramDefinition,
    in_family: ir.Table,
    parts: list[Component],
    reference: date | None,
) -> ir.Table:
    """One row per member chosen by the `members` rule and paid by the benefit: a flat or
    per-person amount each, or the components / items the member meets (caps per family)."""
    chosen = in_family
    if definition.members:
        rule = parse_rule(definition.members, member_vocabulary())
        chosen = in_family.filter(_member_condition(rule, in_family, reference))
    benefit = definition.benefit
    if benefit.kind in ("components", "in_kind"):
        return _component_rows(chosen, parts, benefit, reference, per_member=True)
    part = parts[0]
    cap = getattr(benefit, "max_persons", None)
    if cap is not None:  # per person, at most `cap` members of a family: the first by id
        window = ibis.window(group_by=chosen.household_id, order_by=chosen.member_id)
        chosen = chosen.mutate(place=ibis.row_number().over(window))
        chosen = chosen.filter(chosen.place < cap).drop("place")
    # One amount per member: already one row each, nothing to sum (95 M members nationally).
    persons, amount = component_columns(part.name)
    paid = ibis.literal(part.amount_idr, "int64")
    return chosen.select(
        "household_id",
        "member_id",
        "nik",
        *KEYS,
        amount_idr=paid,
        **{persons: ibis.literal(1, "int64"), amount: paid},
    )


def _flat_rows(eligible: ir.Table, part: Component, benefit: Any) -> ir.Table:
    persons, amount = component_columns(part.name)
    unit_amount = ibis.literal(part.amount_idr, "int64")
    if benefit.kind == "per_person":
        cap = getattr(benefit, "max_persons", None)
        counted = eligible.hh_size if cap is None else ibis.least(eligible.hh_size, cap)
        counted = counted.cast("int64")
        total = counted * unit_amount
    else:
        counted = ibis.literal(1, "int64")
        total = unit_amount
    return eligible.select(
        "household_id",
        *KEYS,
        amount_idr=total,
        **{persons: counted, amount: total},
    )


def _component_rows(
    in_family: ir.Table,
    parts: list[Component],
    benefit: Any,
    reference: date | None,
    *,
    per_member: bool = False,
) -> ir.Table:
    max_persons = getattr(benefit, "max_persons", None) if benefit.kind == "components" else None
    if benefit.kind == "in_kind":
        choices = _in_kind_choices(in_family, parts, reference)
    else:
        choices = member_choices(in_family, parts, max_persons, reference)
        choices = choices.filter(choices.counted)
    return _grouped(choices, parts, per_member=per_member)


def _grouped(choices: ir.Table, parts: list[Component], *, per_member: bool) -> ir.Table:
    """Chosen (member, component, amount) rows summed per household, or per member."""
    sums: dict[str, ir.Value] = {}
    for part in parts:
        persons, amount = component_columns(part.name)
        is_part = choices.chosen == part.name
        sums[persons] = is_part.ifelse(1, 0).sum().cast("int64")
        sums[amount] = is_part.ifelse(choices.amount, 0).sum().cast("int64")
    # Per member (a program of persons), the family's KEYS ride along as grouping keys.
    keys = ["household_id", *(["member_id", "nik", *KEYS] if per_member else [])]
    return choices.group_by(keys).aggregate(amount_idr=choices.amount.sum().cast("int64"), **sums)


def _in_kind_choices(
    in_family: ir.Table, parts: list[Component], reference: date | None
) -> ir.Table:
    """Every item a member qualifies for (in kind: no caps, one row per member and item)."""
    per_item = [
        in_family.filter(_member_condition(p.when, in_family, reference)).mutate(
            chosen=ibis.literal(p.name), amount=ibis.literal(p.amount_idr, "int64")
        )
        for p in parts
    ]
    return ibis.union(*per_item) if len(per_item) > 1 else per_item[0]


def _within_quota(rows: ir.Table, quota: ir.Table, rule: Any) -> ir.Table:
    """At most the region's quota of beneficiaries, the poorest (lowest score) first."""
    region = rows.regency_code if rule.level == "regency" else rows.province_code
    window = ibis.window(
        group_by=region, order_by=[rows.score, rows.kk_number, rows.beneficiary_id]
    )
    placed = rows.mutate(quota_region=region, place=ibis.row_number().over(window))
    joined = placed.left_join(quota, placed.quota_region == quota.region_code)
    default = getattr(rule, "default", None)
    limit = joined.quota if default is None else joined.quota.fill_null(int(default))
    kept = joined.filter(limit.isnull() | (joined.place < limit))
    return kept.drop("place", "quota_region", "region_code", "quota")


def quota_rows(rule: Any) -> list[dict[str, object]]:
    return [{"region_code": code, "quota": int(n)} for code, n in sorted(rule.counts.items())]

"""The programs a reader can choose from: the shipped definitions, summarised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lumbung.programs.definition import ProgramDefinition, load_shipped_programs


@dataclass(frozen=True, slots=True)
class ProgramSummary:
    """A program definition's facts as `program list` and `program validate` report them."""

    definition: ProgramDefinition  # the whole definition, for a front end's own wording

    def as_dict(self) -> dict[str, Any]:
        d = self.definition
        return {
            "code": d.code,
            "name": d.name,
            "version": d.version,
            "unit": d.unit,
            "channel": d.channel,
            "schedule": d.schedule.kind,
            "months_per_cycle": d.months_per_cycle,
            "benefit": d.benefit.kind,
            "amounts_per_cycle": d.amounts_per_cycle(),
        }


def list_programs() -> list[ProgramSummary]:
    """The programs shipped with Lumbung (files, not the database: open to anyone)."""
    return [ProgramSummary(d) for d in load_shipped_programs().values()]

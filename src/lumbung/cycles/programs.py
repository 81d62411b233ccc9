"""Whether a program's content may run under its code and version, judged by the cycles
that ran. What runs under a program's code and version is always the same content:

- a shipped program's code belongs to the shipped definition: another file may not take it
  (unless it says exactly what the shipped one says);
- a code and version that ran before (any cycle, draft or approved) runs again only with the
  same content; different content needs another `version`.

Finding a definition and knowing it by its content: `programs.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.cycles.models import Cycle
from lumbung.errors import Conflict
from lumbung.programs.catalog import LoadedProgram, find_definition, shipped_sha256


@dataclass(frozen=True, slots=True)
class IdentityProblem:
    key: str  # the definition's key at fault: "code" or "version"
    code: str  # code_taken | version_taken
    message: str


def resolve(session: Session, program: str, *, replacing: Cycle | None = None) -> LoadedProgram:
    """The definition `cycle run --program` names, checked to be what its code and version
    always meant (module docstring); `replacing`: the draft this run replaces, whose own
    definition does not count."""
    found = find_definition(session, program)
    problems = identity_problems(session, found, replacing=replacing)
    if problems:
        raise Conflict(" ".join(p.message for p in problems))
    return found


def identity_problems(
    session: Session | None, program: LoadedProgram, *, replacing: Cycle | None = None
) -> list[IdentityProblem]:
    """Why this content may not run under its code and version (empty: it may). Without a
    session, only the shipped codes are checked."""
    definition = program.definition
    problems = []
    shipped = shipped_sha256().get(definition.code)
    if shipped is not None and shipped != program.sha256:
        problems.append(
            IdentityProblem(
                "code",
                "code_taken",
                f"Kode {definition.code} milik program bawaan; berkas lain tidak boleh "
                f"memakainya: isi bawaan sha256 {shipped}, isi berkas ini sha256 "
                f"{program.sha256}. Beri program ini kode sendiri.",
            )
        )
    if session is None:
        return problems
    query = select(Cycle.label, Cycle.definition, Cycle.definition_sha256).where(
        Cycle.program_code == definition.code, Cycle.definition_sha256 != program.sha256
    )
    if replacing is not None:
        query = query.where(Cycle.id != replacing.id)
    for label, content, digest in session.execute(query.order_by(Cycle.id)):
        if content.get("version") == definition.version:
            problems.append(
                IdentityProblem(
                    "version",
                    "version_taken",
                    f"Program {definition.code} versi {definition.version} sudah dijalankan "
                    f"(siklus {label}) dengan isi lain: sha256 {digest}; isi ini sha256 "
                    f"{program.sha256}. Isi baru perlu `version` baru.",
                )
            )
            break
    return problems

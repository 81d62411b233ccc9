"""Finding a program's definition, and knowing it by its content.

A program is named on the command line by a shipped code (PKH, SEMBAKO, …), by the code of a
program that has run before (its definition as the database stored it), or by the path of a
definition file. A definition is known by the SHA-256 of its content (the definition as
data, canonical JSON: comments and layout of the file do not count), recorded with every
cycle. What runs under a program's code and version is always the same content:

- a shipped program's code belongs to the shipped definition: another file may not take it
  (unless it says exactly what the shipped one says);
- a code and version that ran before (any cycle, draft or approved) runs again only with the
  same content; different content needs another `version`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.cycles.models import Cycle, Program
from lumbung.errors import Conflict, NotFound
from lumbung.programs.definition import ProgramDefinition, load_program, shipped_programs


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    definition: ProgramDefinition
    path: Path | None  # None: the definition stored in the database by an earlier run
    content: dict[str, Any]  # the definition as data, stored with every cycle
    sha256: str


@dataclass(frozen=True, slots=True)
class IdentityProblem:
    key: str  # the definition's key at fault: "code" or "version"
    code: str  # code_taken | version_taken
    message: str


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of a definition's content: JSON with sorted keys, as every cycle's
    `definition_sha256` has been computed from the start (changing the form would make every
    recorded hash differ)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def loaded(definition: ProgramDefinition, path: Path | None) -> LoadedProgram:
    content = definition.model_dump(mode="json")
    return LoadedProgram(definition, path, content, content_sha256(content))


@cache
def shipped_sha256() -> dict[str, str]:
    """code → content hash of every shipped definition."""
    files = shipped_programs()
    codes = frozenset(files)
    return {
        code: loaded(load_program(path, programs=codes), path).sha256
        for code, path in files.items()
    }


def is_file(program: str) -> bool:
    return program.endswith((".yaml", ".yml")) or "/" in program


def load_definition(program: str, known: frozenset[str] = frozenset()) -> LoadedProgram:
    """`program` is a shipped code (PKH, SEMBAKO, …) or the path of a definition file;
    `known` adds the codes of programs run before, which `enrolled()` may name."""
    shipped = shipped_programs()
    path = shipped.get(program.upper()) if not is_file(program) else None
    if path is None:
        path = Path(program)
        if not path.exists():
            raise NotFound(
                f"Berkas definisi program {program} tidak ada."
                if is_file(program)
                else f"Program {program} tidak dikenal: bukan kode bawaan "
                f"({', '.join(sorted(shipped))}), bukan program yang pernah dijalankan, "
                "dan bukan berkas definisi."
            )
    return loaded(load_program(path, programs=frozenset(shipped) | known), path)


def known_programs(session: Session) -> dict[str, Program]:
    """The programs that have run, by code (each as last run)."""
    return {row.code: row for row in session.execute(select(Program)).scalars()}


def resolve(session: Session, program: str, *, replacing: Cycle | None = None) -> LoadedProgram:
    """The definition `cycle run --program` names, checked to be what its code and version
    always meant (module docstring); `replacing`: the draft this run replaces, whose own
    definition does not count."""
    ran = known_programs(session)
    code = program.upper()
    if not is_file(program) and code not in shipped_programs() and code in ran:
        row = ran[code]
        found = loaded(ProgramDefinition.model_validate(row.definition), None)
        if found.sha256 != row.sha256:
            raise Conflict(
                f"Definisi program {code} yang tersimpan berubah (sha256 {found.sha256}, "
                f"tercatat {row.sha256}); jalankan dari berkasnya."
            )
    else:
        found = load_definition(program, frozenset(ran))
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

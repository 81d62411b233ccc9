"""Finding a program's definition, knowing it by its content, and the programs that have run.

A program is named on the command line by a shipped code (PKH, SEMBAKO, …), by the code of a
program that has run before (its definition as the `program` table stored it), or by the path
of a definition file. A definition is known by the SHA-256 of its content (the definition as
data, canonical JSON: comments and layout of the file do not count), recorded with every
cycle. Whether a content may run under its code and version is judged by the cycles that ran
(`cycles.programs`).
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

from lumbung.db import utcnow
from lumbung.errors import Conflict, NotFound
from lumbung.programs.definition import ProgramDefinition, load_program, shipped_programs
from lumbung.programs.models import Program


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    definition: ProgramDefinition
    path: Path | None  # None: the definition stored in the database by an earlier run
    content: dict[str, Any]  # the definition as data, stored with every cycle
    sha256: str


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of a definition's content: JSON with sorted keys, as every cycle's
    `definition_sha256` has been computed from the start (changing the form would make every
    recorded hash differ)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def loaded(definition: ProgramDefinition, path: Path | None) -> LoadedProgram:
    """The definition with its content and the content's hash."""
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
    """Whether `program` names a definition file rather than a code."""
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


def stored_definition(row: Program) -> LoadedProgram:
    """A program's definition as its last run stored it, checked against its hash."""
    found = loaded(ProgramDefinition.model_validate(row.definition), None)
    if found.sha256 != row.sha256:
        raise Conflict(
            f"Definisi program {row.code} yang tersimpan berubah (sha256 {found.sha256}, "
            f"tercatat {row.sha256}); jalankan dari berkasnya."
        )
    return found


def find_definition(session: Session, program: str) -> LoadedProgram:
    """The definition `program` names: a shipped code, a program run before (as stored), or a
    file."""
    ran = known_programs(session)
    code = program.upper()
    if not is_file(program) and code not in shipped_programs() and code in ran:
        return stored_definition(ran[code])
    return load_definition(program, frozenset(ran))


def record_run(session: Session, program: LoadedProgram) -> None:
    """Keep `program` as its code's last-run definition (the row a later run by code finds)."""
    definition = program.definition
    row = session.execute(
        select(Program).where(Program.code == definition.code)
    ).scalar_one_or_none()
    if row is None:
        row = Program(code=definition.code)
        session.add(row)
    row.name = definition.name
    row.unit = definition.unit
    row.version = definition.version
    row.definition = program.content
    row.sha256 = program.sha256
    row.updated_at = utcnow()
    session.flush()

"""Finding a program's definition: a shipped program by its code, or a file by its path."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumbung.errors import NotFound
from lumbung.programs.definition import ProgramDefinition, load_program, shipped_programs


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    definition: ProgramDefinition
    path: Path
    content: dict[str, Any]  # the definition as data, stored with every cycle
    sha256: str


def load_definition(program: str, known: frozenset[str] = frozenset()) -> LoadedProgram:
    """`program` is a shipped code (PKH, SEMBAKO, …) or the path of a definition file;
    `known` adds the codes of programs run before, which `enrolled()` may name."""
    shipped = shipped_programs()
    path = shipped.get(program.upper()) if not program.endswith((".yaml", ".yml")) else None
    if path is None:
        path = Path(program)
        if program.endswith((".yaml", ".yml")) and not path.exists():
            raise NotFound(f"Berkas definisi program {program} tidak ada.")
        if not path.exists():
            raise NotFound(
                f"Program {program} tidak dikenal: bukan kode bawaan "
                f"({', '.join(sorted(shipped))}) dan bukan berkas definisi."
            )
    definition = load_program(path, programs=frozenset(shipped) | known)
    content = definition.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return LoadedProgram(definition, path, content, digest)

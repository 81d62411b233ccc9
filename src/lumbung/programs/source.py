"""A YAML text as plain data that remembers where every key and value stands in the file.

PyYAML's composer keeps a start mark on each node; `YamlSource` turns the node tree into
dicts, lists and scalars (safe types only, no aliases), records the node of every path, and
maps a position inside a scalar's value (a rule in a block scalar `>` or `|`, a plain or
quoted scalar) back to the file, so that every problem is reported as FILE:LINE:COLUMN.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

Key = tuple[str | int, ...]
Position = Callable[[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class YamlSource:
    """A YAML text as plain data, with the node (and position) of every key and value."""

    def __init__(self, text: str, file: str, *, raw_text: Callable[[Key], bool]) -> None:
        self.text, self.file, self.raw_text = text, file, raw_text
        self.problems: list[Problem] = []
        self.values: dict[Key, yaml.Node] = {}
        self.keys: dict[Key, yaml.Node] = {}
        self.line_starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
        self._seen: set[int] = set()
        self._constructor = SafeConstructor()
        self.data: Any = self._compose()

    def problem(self, line: int, column: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, column, code, message))

    def at(self, node: yaml.Node | None, code: str, message: str) -> None:
        mark = node.start_mark if node is not None else None
        self.problem(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, code, message)

    def _compose(self) -> Any:
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            self.problem(line, col, "yaml_error", f"YAML tidak sah: {exc.problem or exc}.")
            return None
        except yaml.reader.ReaderError as exc:
            line, col = self.position(exc.position)
            self.problem(line, col, "yaml_error", "Ada karakter yang tidak diizinkan dalam berkas.")
            return None
        except (yaml.YAMLError, RecursionError) as exc:
            self.problem(1, 1, "yaml_error", f"YAML tidak dapat dibaca ({type(exc).__name__}).")
            return None
        if root is None:
            self.problem(1, 1, "wrong_type", "Berkas kosong.")
            return None
        if not isinstance(root, yaml.MappingNode):
            self.at(
                root, "wrong_type", "Berkas harus berisi pemetaan (kunci: nilai), mis. code: PKH."
            )
            return None
        try:
            return self._convert(root, ())
        except RecursionError:
            self.problem(1, 1, "yaml_error", "Berkas bersarang terlalu dalam.")
            return None

    def _convert(self, node: yaml.Node, path: Key) -> Any:
        self.values[path] = node
        if id(node) in self._seen:
            message = "Anchor/alias YAML (&nama, *nama) tidak diizinkan; tulis nilainya."
            self.at(node, "not_allowed", message)
            return None
        self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str | int) or isinstance(key, bool):
                    self.at(key_node, "wrong_type", "Kunci harus berupa teks.")
                    continue
                if key in mapping:
                    self.at(key_node, "duplicate_key", f"Kunci `{key}` muncul dua kali.")
                    continue
                self.keys[(*path, key)] = key_node
                mapping[key] = self._convert(value_node, (*path, key))
            return mapping
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if self.raw_text(path) and node.tag != "tag:yaml.org,2002:null":
            return str(node.value)  # e.g. a rule: text even where YAML reads `true`
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError:
            self.at(node, "invalid_value", "Nilai ini tidak dapat dibaca.")
            return None

    def get(self, path: Key) -> Any:
        """The value at a path, None where there is none."""
        value = self.data
        for part in path:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
                value = value[part]
            else:
                return None
        return value

    def position(self, index: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, index) - 1
        return line + 1, index - self.line_starts[line] + 1

    def rule_position(self, node: yaml.Node) -> Position:
        """Positions in a scalar's value → positions in the file (plain, quoted or block).

        Each character of the value is matched to the next equal source character; folded
        line breaks match spaces, and indentation, quotes and escapes are skipped.
        """
        value, text, end = str(node.value), self.text, node.end_mark.index
        start = node.start_mark.index
        if node.style in ("|", ">"):
            start = text.find("\n", start) + 1 or end  # content begins on the next line
        elif node.style in ("'", '"'):
            start += 1
        index, p = [], start
        for ch in value:
            q, skipped = p, 0
            while q < end and text[q] != ch and not (ch == " " and text[q] == "\n"):
                skipped += text[q] not in " \t\r\n"
                if skipped > 8:
                    break
                q += 1
            if q < end and skipped <= 8:
                index.append(q)
                p = q + 1
            else:
                index.append(min(p, max(end - 1, start)))
        index.append(min(p, max(end, start)))
        offsets = [0]
        for line in value.split("\n"):
            offsets.append(offsets[-1] + len(line) + 1)

        def position(line: int, col: int) -> tuple[int, int]:
            offset = min(offsets[min(line, len(offsets) - 1) - 1] + col, len(value))
            return self.position(index[offset])

        return position

"""The flash that carries a form's result across its redirect (web/context.py, Page.done):
plain JSON of a service's result, shortened to fit a cookie, sealed to the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from cryptography.fernet import InvalidToken

from lumbung.web.context import _fitted, _flash_box, _shorten


@dataclass
class Outcome:
    line: int
    on: date


@dataclass
class Summary:
    rows: int
    outcomes: list[Outcome]

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "outcomes": self.outcomes}


def test_a_result_becomes_plain_json_at_any_depth() -> None:
    values = _fitted({"summary": Summary(2, [Outcome(1, date(2026, 12, 7))]), "note": "x"})
    assert values == {
        "summary": {"rows": 2, "outcomes": [{"line": 1, "on": "2026-12-07"}]},
        "note": "x",
    }


def test_the_longest_list_is_halved_until_none_is_left() -> None:
    values = {"a": {"problems": list(range(9))}, "b": [1, 2]}
    assert _shorten(values) and values == {"a": {"problems": [0, 1, 2, 3]}, "b": [1, 2]}
    for _ in range(5):
        _shorten(values)
    assert values == {"a": {"problems": []}, "b": []}
    assert not _shorten(values)


def test_a_flash_opens_only_with_its_own_sessions_secret() -> None:
    sealed = _flash_box("csrf-of-one-session").encrypt(b'{"secret": "lmb_x"}')
    assert b"lmb_x" not in sealed
    assert _flash_box("csrf-of-one-session").decrypt(sealed) == b'{"secret": "lmb_x"}'
    with pytest.raises(InvalidToken):
        _flash_box("csrf-of-another-session").decrypt(sealed)

"""A service's refusal is said in words that fit every front end: no `lumbung …` command and
no command-line option in its message (pages and the API show it as it is, and their users
have no shell); the command that helps travels beside it (`LumbungError.command`) and the
command line adds it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from lumbung.errors import Conflict, ValidationFailed

SRC = Path(__file__).resolve().parent.parent / "src" / "lumbung"
ERRORS = {
    "LumbungError",
    "ValidationFailed",
    "NotFound",
    "PermissionDenied",
    "Conflict",
    "SignInRefused",
    "RowError",
}
# Messages only the command line can cause, each with why (a page or the API never does).
COMMAND_LINE_ONLY = {
    # create_user without an acting admin: the command line's --as (the first user aside).
    ("auth/service.py", "Membuat pengguna butuh admin (--as)."),
    # `pmt fit`, a command of its own.
    ("targeting/fit.py", "--area harus province, regency atau none."),
    # Windows and filters of `cycle beneficiaries` and `cycle totals`: pages pass fixed ones.
    ("cycles/listing.py", "--limit harus antara 1 dan"),
    ("cycles/listing.py", "--offset tidak boleh negatif."),
    ("cycles/listing.py", "--regency"),
    ("cycles/listing.py", "--level"),
    # Every paged read's window: pages pass their own page size and a whole-number offset.
    ("paging.py", "--limit harus antara 1 dan"),
    ("paging.py", "--offset tidak boleh negatif."),
    # Opening the database, before any page: the server's operator reads it (db.py).
    ("db.py", "Database SQLite"),
}


def _messages() -> list[tuple[str, int, str]]:
    """Every literal text of the first argument of a domain error raised outside the command
    line (a RowError's message is its fifth)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in ERRORS:
                continue
            message = node.args[4] if name == "RowError" and len(node.args) > 4 else node.args[0]
            text = "".join(
                n.value
                for n in ast.walk(message)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
            found.append((relative, node.lineno, text))
    return found


def test_the_scan_finds_the_messages() -> None:
    texts = [text for _, _, text in _messages()]
    assert len(texts) > 200
    assert any("berubah sejak usulan dibuat" in t for t in texts)


def test_no_service_message_names_a_command_or_an_option() -> None:
    bad = [
        f"{path}:{line}: {text}"
        for path, line, text in _messages()
        if ("lumbung " in text or "--" in text)
        and not any(path == p and text.startswith(start) for p, start in COMMAND_LINE_ONLY)
    ]
    assert bad == []


def test_the_command_line_adds_the_command() -> None:
    refused = Conflict("Keluarga berubah.", cause="family_changed", command="lumbung x 7")
    assert refused.message == str(refused) == "Keluarga berubah."
    assert refused.for_command_line() == "Keluarga berubah. Di baris perintah: `lumbung x 7`."
    plain = ValidationFailed("Beri alasan.")
    assert plain.for_command_line() == "Beri alasan." and plain.cause is None


@pytest.mark.usefixtures("users")
def test_the_audit_page_says_what_is_missing_in_its_own_words(
    engine: Engine, tmp_path: Path
) -> None:
    from web_helpers import client, give_passwords, make_app, sign_in

    give_passwords(engine, "auditor")
    web = client(make_app(engine, tmp_path / "data"))
    sign_in(web, "auditor")
    page = web.get("/audit?id=5")
    assert page.status_code == 422
    assert "Nomor entitas butuh jenis entitasnya" in page.text
    assert "--entity" not in page.text and "lumbung audit" not in page.text

"""What every command shares: settings, the database, the acting user, output, errors."""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.errors import MarkupError
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lumbung import db, driver_errors
from lumbung.auth.models import User
from lumbung.auth.service import get_user
from lumbung.config import Settings, get_settings
from lumbung.db import DbEngine, DbSession
from lumbung.errors import LumbungError, ValidationFailed
from lumbung.numbers import grouped
from lumbung.registry.check_sql import CONTROL, printable
from lumbung.registry.errors import BatchFileError

# What a terminal must never receive from a value: every control character (a carriage return
# too, which lets text overwrite its own line) and bidirectional mark; tab and line feed only
# lay text out.
TERMINAL = re.compile(CONTROL.pattern[:-1] + "\r]")


class SafeConsole(Console):
    """A console through which nothing raw reaches the terminal: every text it is given to
    print (an f-string of any command, a Text) has its control characters and bidirectional
    marks shown escaped (`\\x1b`, `\\u202e`) before Rich renders it. Rich's own styles are
    added afterwards, so they still work. Values interpolated into markup should still go
    through `plain` (or `say`, `table`), so that their brackets are not read as styles."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        safe = [_terminal_safe(o) for o in objects]
        try:
            super().print(*safe, **kwargs)
        except MarkupError:  # a value such as `[/x]` in a line of markup: printed as written
            super().print(*safe, **{**kwargs, "markup": False})


def _terminal_safe(thing: Any) -> Any:
    if isinstance(thing, str) and TERMINAL.search(thing):
        return TERMINAL.sub(lambda m: printable(m.group()), thing)
    if isinstance(thing, Text) and TERMINAL.search(thing.plain):
        return Text(TERMINAL.sub(lambda m: printable(m.group()), thing.plain), style=thing.style)
    return thing


def _console(stderr: bool = False) -> Console:
    """The terminal's width on a terminal. Piped or redirected, lines are not wrapped: Rich
    would wrap them at 80 columns and split KK numbers, NIKs and `file:line:column` in two in
    a file or a log (`COLUMNS` still sets a width when wanted)."""
    # No emoji codes either: `:x:` in a value (a line of /etc/passwd) printed as ❌.
    console = SafeConsole(stderr=stderr, emoji=False)
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return SafeConsole(stderr=stderr, width=1_000, emoji=False)


console = _console(stderr=True)
out = _console()

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
ActorOption = typer.Option(None, "--as", help="Username acting (default: LUMBUNG_ACTOR).")
LimitOption = typer.Option(50, "--limit", help="Rows per page (at most 1,000).")
OffsetOption = typer.Option(0, "--offset", help="Rows to skip (the next page).")
RegionOption = typer.Option(
    None, "--region", help="Region code at any level (default: your scope)."
)


def settings() -> Settings:
    return get_settings()


_engines = db.engines  # the process's engines (tests dispose of them between runs)


def engine() -> DbEngine:
    return db.engine_for(settings().database_url)


# What the operating system says of a file or folder, in the operator's words.
FILE_PROBLEMS = {
    errno.ENOENT: "tidak ada",
    errno.EACCES: "tidak boleh diakses",
    errno.EPERM: "tidak boleh diakses",
    errno.EROFS: "hanya bisa dibaca",
    errno.ENOSPC: "disk penuh",
    errno.ENOTDIR: "bukan folder",
    errno.EISDIR: "sebuah folder, bukan berkas",
}


@contextmanager
def unit_of_work() -> Iterator[DbSession]:
    """One transaction for one command: commit when it succeeds, roll back when it fails."""
    with db.unit_of_work(engine()) as session:
        yield session


def acting_user(session: DbSession, username: str | None) -> User:
    name = username or settings().actor
    if not name:
        raise ValidationFailed("Siapa yang bertindak? Beri --as USERNAME atau LUMBUNG_ACTOR.")
    return get_user(session, username=name)


def at_row(row: int) -> str:
    """Where in a file: its row (as a spreadsheet numbers it), or the whole file (row 0)."""
    return f"baris {row}" if row else "(seluruh berkas)"


def plain(value: Any) -> str:
    """A value to interpolate into text that `console.print` reads as Rich markup: printable,
    and its brackets escaped (a name `[bold]X` is printed as written, not styled)."""
    return escape(printable(value))


def say(line: str, *, to: Console | None = None) -> None:
    """One line of plain text (never read as markup), printable whatever values it holds."""
    (to or out).print(Text(printable(line)))


def shown(value: Any) -> str:
    """A stored value on screen: flags in words, whole numbers without a fraction; printable
    (`printable`), to be printed as plain text (`table` does; in markup, `plain`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return printable(value)


def json_text(payload: Any) -> str:
    """JSON of `payload` (indented), Indonesian text as it is, but every control character and
    bidirectional mark as a `\\u` escape: the same string to a JSON reader; to a terminal,
    nothing it acts on (`json.dumps` escapes only the C0 controls by itself)."""
    text = json.dumps(payload, default=str, ensure_ascii=False, indent=2)
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(payload: Any) -> None:
    """`payload` as JSON on stdout, highlighted on a terminal, never wrapped (as Rich's
    `print_json`, which would decode the escapes of `json_text` again)."""
    rendered = JSONHighlighter()(json_text(payload))
    rendered.no_wrap = True
    rendered.overflow = None
    out.print(rendered, soft_wrap=True)


def emit(as_json: bool, payload: Any, human: Callable[[], None]) -> None:
    if as_json:
        print_json(payload)
    else:
        human()


def window_title(noun: str, offset: int, shown: int, total: int) -> str:
    """A paged table's title: "Anggota 51-100 dari 1.234"."""
    return f"{noun} {offset + 1}-{offset + shown} dari {grouped(total)}"


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A table of plain text: its title and cells are never read as markup, and every value is
    printable (`printable`), whatever the registry or a file holds."""
    result = Table(title=Text(printable(title)))
    for column in columns:
        result.add_column(Text(printable(column)), overflow="fold")  # wrap, never cut
    for row in rows:
        result.add_row(*(Text(printable(v)) for v in row))
    return result


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a clear message and a non-zero exit code (JSON with --json)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except BatchFileError as exc:
            errors = [e.as_dict() for e in exc.errors]
            if as_json:
                unreadable: dict[str, Any] = {"error": "batch_unreadable", "errors": errors}
                if exc.command:
                    unreadable["command"] = exc.command
                print_json(unreadable)
            else:
                for e in exc.errors:
                    console.print(error_line(e.as_dict()), highlight=False)
                if exc.command:
                    console.print(f"Di baris perintah: `{plain(exc.command)}`.", highlight=False)
            raise typer.Exit(2) from exc
        except OSError as exc:
            what = FILE_PROBLEMS.get(exc.errno or 0, "tidak bisa dipakai")
            message = f"Berkas atau folder {exc.filename or ''} {what}.".replace("  ", " ")
            if as_json:
                print_json({"error": "file", "message": message})
            else:
                console.print(f"[red]file[/red]: {plain(message)}", highlight=False)
            raise typer.Exit(1) from exc
        except LumbungError as exc:
            # The service's message with the command that acts on it (pages say it without).
            message = exc.for_command_line()
            if as_json:
                body: dict[str, Any] = {"error": exc.code, "message": message}
                if exc.details:
                    body["errors"] = exc.details
                print_json(body)
            else:
                console.print(f"[red]{exc.code}[/red]: {plain(message)}", highlight=False)
            raise typer.Exit(1) from exc

        except Exception as exc:
            if not driver_errors.is_database_error(exc):
                raise
            # A database that is missing, unreachable, not yet migrated or busy: said plainly.
            problem = driver_errors.database_problem(exc)
            if as_json:
                print_json(
                    {"error": "database", "message": problem.message, "detail": problem.detail}
                )
            else:
                console.print(f"[red]database[/red]: {plain(problem.message)}", highlight=False)
            raise typer.Exit(1) from exc

    return wrapper


def error_line(e: dict[str, Any]) -> str:
    """One problem of a batch as a line of markup: file and code styled, every value plain."""
    return (
        f"[red]{plain(e['file'])}[/red] {at_row(e['row'])} {plain(e['column'])} "
        f"[bold]{plain(e['code'])}[/bold]: {plain(e['message'])}"
    )


def emit_check(
    as_json: bool, payload: Any, *, ok: bool, good: str, bad: str, problems: list[str]
) -> None:
    """A verification's verdict: one line when sound, every problem and exit code 1 when not."""

    def human() -> None:
        if ok:
            out.print(f"[green]OK[/green]: {good}")
            return
        out.print(f"[red]RUSAK[/red]: {bad}")
        for problem in problems:
            out.print(f"  {plain(problem)}", highlight=False)

    emit(as_json, payload, human)
    if not ok:
        raise typer.Exit(1)


def parse_date(text: str, option: str) -> date:
    """A YYYY-MM-DD option value, or a clear error naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{option} {text!r}: bukan tanggal YYYY-MM-DD.") from exc

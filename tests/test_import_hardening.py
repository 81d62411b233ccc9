"""Imports that lose nothing and say the right thing (issue 14, items 4–9), on both backends:
every row of an XLSX whatever its dimension claims, one table of each kind, control characters
refused per cell and never printed raw, bounded reading, capped output, messages in Indonesian
that echo no file content, and scratch folders of killed imports removed."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from factories import family, kk, write_batch
from helpers import codes, counts, run_import
from lumbung.db import session_scope
from lumbung.errors import ValidationFailed
from lumbung.registry import vocab
from lumbung.registry.errors import BatchFileError
from lumbung.registry.models import Household, Member
from test_cli import Cli, cli, said  # noqa: F401  (cli: the fixture)
from test_lifecycle import propose

pytestmark = pytest.mark.usefixtures("users")

Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]

# What a terminal acts on, or what makes text read otherwise than it is stored.
HOSTILE = {
    "nul": "BUDI\x00SANTOSO",
    "escape_sequence": "BUDI \x1b[31mMERAH\x1b[0m",
    "bell": "BUDI\x07",
    "delete": "BUDI\x7f",
    "c1_csi": "BUDI\x9b31m",
    "bidi_override": "BUDI \u202eOTNAS",
    "bidi_isolate": "BUDI \u2066X\u2069",
    "tab_in_name": "BUDI\tSANTOSO",
    "line_break_in_name": "BUDI\nSANTOSO",
}
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def two_families() -> Rows:
    h1, m1 = family(1)
    h2, m2 = family(2)
    return [h1, h2], m1 + m2


# --- 6. control characters ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_control_characters_are_refused_per_cell(engine: Engine, tmp_path: Path, case: str) -> None:
    """A name with NUL (which PostgreSQL refuses, failing the whole batch), an escape sequence,
    a bell, DEL, a C1 control or a bidirectional override is refused as `control_character`,
    on both databases; the rest of the batch is loaded and no message carries the raw
    character."""
    households, members = two_families()
    members[1]["name"] = HOSTILE[case]
    members[4]["mother_name"] = "IBU\x1b]0;judul\x07"
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    found = codes(summary)
    assert ("members.csv", 3, "name", "control_character") in found
    # Rows are numbered by the line they start on: a quoted line break moves the next ones.
    row = 7 if "\n" in HOSTILE[case] else 6
    assert ("members.csv", row, "mother_name", "control_character") in found
    assert (summary.households_accepted, summary.members_accepted) == (2, 4)
    assert counts(engine) == (2, 4)
    assert not [e for e in summary.errors if RAW.search(e["message"])]
    assert summary.reject_file is not None
    assert not RAW.search(Path(summary.reject_file).read_text(encoding="utf-8").replace("\r\n", ""))
    with session_scope(engine) as session:
        names = session.execute(select(Member.name)).scalars().all()
    assert not [n for n in names if RAW.search(n) or "\t" in n or "\n" in n]


def test_an_address_keeps_its_line_breaks_but_not_an_escape(engine: Engine, tmp_path: Path) -> None:
    """A spreadsheet cell's own line break (and a tab) stays in an address; an escape
    sequence or a bidirectional override does not."""
    households, members = two_families()
    households[0]["address"] = "Jl. Mawar 1\r\nRT 3\tRW 4"
    households[1]["address"] = "Jl. \u202eMawar"
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    assert codes(summary) >= {("households.csv", 3, "address", "control_character")}
    assert summary.households_accepted == 1
    with session_scope(engine) as session:
        address = session.execute(select(Household.address)).scalar_one()
    assert address == "Jl. Mawar 1\r\nRT 3\tRW 4"


@pytest.mark.parametrize("hostile", ["BUDI\x00", "X\x1b[2J", "A\u202eB", "A\x9bB"])
def test_a_proposal_with_a_control_character_is_refused(engine: Engine, hostile: str) -> None:
    """A change request goes through the same checks: refused with the code, on both
    databases (NUL included: PostgreSQL would refuse it in the JSON payload itself)."""
    households, members = family(1)
    payload = {"household": households, "members": [{**members[0], "name": hostile}, *members[1:]]}
    with pytest.raises(ValidationFailed) as caught:
        propose(engine, "new_family", payload)
    assert [d["code"] for d in caught.value.details] == ["control_character"]
    assert not RAW.search(caught.value.message)
    with session_scope(engine) as session:
        assert session.execute(text("SELECT count(*) FROM change_request")).scalar_one() == 0


def test_the_command_never_prints_stored_text_raw(
    cli: Cli,  # noqa: F811
    engine: Engine,
) -> None:
    """Text already stored (before these checks, or written around them) is printed with its
    control characters escaped and its brackets as written, on screen and in JSON."""
    # the `users` fixture made them (admin: national)
    households, members = family(1)
    members[1]["name"] = "[bold]SITI[/bold] AMINAH"
    paths = write_batch(cli.data_dir.parent / "batch", [households], members)
    cli.ok("import", *map(str, paths), "--as", "admin")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE member SET name = :name WHERE nik = :nik"),
            {"name": "ANDI \x1b[31mMERAH\x07 \u202eKIRI", "nik": members[2]["nik"]},
        )
        conn.execute(
            text("UPDATE household SET status_reason = :r, status = 'rejected'"),
            {"r": "[red]palsu[/red] \x1b]0;x\x07"},
        )
    shown = cli.ok("registry", "show", kk(1), "--as", "admin").stdout
    assert not RAW.search(shown)
    assert "\\x1b[31mMERAH\\x07 \\u202eKIRI" in shown
    assert "[bold]SITI[/bold] AMINAH" in shown
    assert "[red]palsu[/red] \\x1b]0;x\\x07" in shown
    machine = cli.ok("registry", "show", kk(1), "--as", "admin", "--json").stdout
    assert not RAW.search(machine)
    names = {m["name"] for m in json.loads(machine)["members"]}
    assert "ANDI \x1b[31mMERAH\x07 \u202eKIRI" in names  # the same text to a JSON reader
    # An error naming a hostile value (the KK asked for) is printed plain too.
    refused = cli.run("registry", "show", "[bold]X\x1b[2J", "--as", "admin")
    assert refused.exit_code == 1
    assert not RAW.search(refused.stderr)


# --- 4, 5. XLSX: every row, one table of each kind ------------------------------------------


def write_xlsx(
    path: Path,
    households: list[dict[str, Any]],
    members: list[dict[str, Any]],
    *,
    extra_sheets: tuple[str, ...] = (),
    dimension: str | None = None,
) -> Path:
    """A workbook with sheets households and members (and copies of households under
    `extra_sheets`); with `dimension`, every sheet's <dimension ref> rewritten to claim that
    range, as a writer that recorded it wrong leaves it."""
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "households"
    sheets = [(first, households, vocab.HOUSEHOLD_COLUMNS)]
    sheets.append((book.create_sheet("members"), members, vocab.MEMBER_COLUMNS))
    # openpyxl renames a sheet whose name differs only in case; the names go in afterwards.
    sheets += [
        (book.create_sheet(f"EXTRA{n}"), households, vocab.HOUSEHOLD_COLUMNS)
        for n, _ in enumerate(extra_sheets)
    ]
    for sheet, rows, columns in sheets:
        sheet.append(list(columns))
        for row in rows:
            sheet.append([row[c] for c in columns])
    whole = path.with_suffix(".whole.xlsx")
    book.save(whole)
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                for n, name in enumerate(extra_sheets):
                    data = data.replace(f'name="EXTRA{n}"'.encode(), f'name="{name}"'.encode())
            if dimension and item.filename.startswith("xl/worksheets/sheet"):
                data, replaced = re.subn(
                    rb'<dimension ref="[^"]*"\s*/>',
                    f'<dimension ref="{dimension}"/>'.encode(),
                    data,
                )
                assert replaced == 1
            dst.writestr(item, data)
    return path


@pytest.mark.parametrize("dimension", ["A1:C5", "A1:Z3", "A1"])
def test_xlsx_rows_past_its_dimension_are_read(
    engine: Engine, tmp_path: Path, dimension: str
) -> None:
    """A workbook whose <dimension> claims fewer rows and columns than it holds: every row
    and column is read (openpyxl's read-only mode stopped at the claim: 20 member rows, 4 read,
    a family loaded with 1 of its 2 members)."""
    households, members = [], []
    for serial in range(1, 8):
        h, m = family(serial)
        households.append(h)
        members += m
    path = write_xlsx(tmp_path / "batch.xlsx", households, members, dimension=dimension)
    with zipfile.ZipFile(path) as book:
        assert f'<dimension ref="{dimension}"/>'.encode() in book.read("xl/worksheets/sheet2.xml")
    summary = run_import(engine, [path])
    assert summary.errors == []
    assert (summary.households_read, summary.members_read) == (7, 21)
    assert counts(engine) == (7, 21)


def test_xlsx_cells_right_of_the_header_reject_their_row(engine: Engine, tmp_path: Path) -> None:
    """A value in a column the header does not name is not dropped in silence."""
    from openpyxl import load_workbook

    households, members = two_families()
    path = write_xlsx(tmp_path / "batch.xlsx", households, members)
    book = load_workbook(path)
    book["members"].cell(row=3, column=len(vocab.MEMBER_COLUMNS) + 2, value="catatan")
    book.save(path)
    summary = run_import(engine, [path])
    assert codes(summary) == {("batch.xlsx:members", 3, "", "field_count")}
    assert summary.members_accepted == 5


@pytest.mark.parametrize("other", ["HOUSEHOLDS", "Households ", " households"])
def test_xlsx_with_two_households_sheets_is_refused(
    engine: Engine, tmp_path: Path, other: str
) -> None:
    """Sheets `households` and `HOUSEHOLDS` (or `Households `): one was ignored in silence;
    now the batch is refused as a folder with two households CSVs is."""
    households, members = two_families()
    path = write_xlsx(tmp_path / "batch.xlsx", households, members, extra_sheets=(other,))
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, [path])
    [error] = caught.value.errors
    assert error.code == "missing_file"
    assert "Dua tabel households" in error.message and repr(other) in error.message
    assert counts(engine) == (0, 0)


# --- 7, 9. bounded reading; files that are not batches; messages that echo nothing ---------


def _refused(engine: Engine, paths: list[Path]) -> Any:
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, paths)
    [error] = caught.value.errors
    assert error.code == "file_unreadable"
    assert counts(engine) == (0, 0)
    return error


ENGLISH = re.compile(r"codec|decode|Error|zip file|Invalid|Line:|Expected|bytes", re.IGNORECASE)


def test_a_header_too_long_for_any_batch_is_refused_not_a_traceback(
    engine: Engine, tmp_path: Path
) -> None:
    """A header over 131,072 characters gave `_csv.Error`; a file of one endless line is
    refused after reading 64 KB of it."""
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    lines = paths[0].read_text().splitlines()
    paths[0].write_text("\n".join([lines[0] + "," + "x" * 140_000, *lines[1:]]) + "\n")
    error = _refused(engine, paths)
    assert (error.file, error.row) == ("households.csv", 1) and "header" in error.message
    endless = tmp_path / "endless.csv"
    with endless.open("wb") as handle:  # 64 MB without a line break (1 GB took 2.2 GB)
        for _ in range(64):
            handle.write(b"kk_number," * 104_858)
    error = _refused(engine, [endless, paths[1]])
    assert error.file == "endless.csv" and not ENGLISH.search(error.message)


@pytest.mark.parametrize("blank_line", [False, True])
def test_a_long_address_is_too_long_not_a_broken_quote(
    engine: Engine, tmp_path: Path, blank_line: bool
) -> None:
    """A 1 MB address plus one blank line (the file then read line by line in Python) was
    refused whole as "quote not closed"; now, as without the blank line, the row is rejected
    `too_long`. A line past the bound (1 MB) refuses the file, saying so."""
    households, members = two_families()
    households[0]["address"] = "A" * 1_000_000
    paths = write_batch(tmp_path / "b", households, members)
    if blank_line:
        body = paths[0].read_text().split("\r\n")
        paths[0].write_text("\r\n".join([*body[:2], "", *body[2:]]))
    summary = run_import(engine, paths)
    assert ("households.csv", 2, "address", "too_long") in codes(summary)
    assert summary.households_accepted == 1
    households[0]["address"] = "A" * 1_100_000
    paths = write_batch(tmp_path / "c", households, members)
    if blank_line:
        body = paths[0].read_text().split("\r\n")
        paths[0].write_text("\r\n".join([*body[:2], "", *body[2:]]))
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, paths)
    [error] = caught.value.errors
    assert (error.code, error.row) == ("file_unreadable", 2)
    assert "lebih dari 1 MB" in error.message and not ENGLISH.search(error.message)


@pytest.mark.parametrize("kind", ["device", "fifo", "fifo_in_folder"])
def test_files_that_are_not_regular_are_refused_at_once(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    """`lumbung import /dev/zero` hung, reading forever; a named pipe waits for a writer."""
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    if kind == "device":
        source = Path("/dev/zero")
        given = [source, paths[1]]
    else:
        source = tmp_path / "b" / "pipe.csv"
        os.mkfifo(source)
        given = [source, paths[1]] if kind == "fifo" else [tmp_path / "b"]
    error = _refused(engine, given)
    assert error.file == source.name and "Bukan berkas biasa" in error.message


def test_a_link_to_a_system_file_is_not_a_batch_and_its_content_is_not_echoed(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n")
    link = tmp_path / "households.csv"
    link.symlink_to(secret)
    error = _refused(engine, [link, paths[1]])
    assert "root" not in error.message and "bukan berkas batch" in error.message
    # A header of the format with one strange column: named when it looks like a column name,
    # otherwise by its place only.
    lines = paths[0].read_text().splitlines()
    paths[0].write_text(
        "\n".join([lines[0] + ",warna rumah,x:0:0:rahasia/isi panjang " + "y" * 50, *lines[1:]])
    )
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, paths)
    said_ = [(e.code, e.column, e.message) for e in caught.value.errors]
    width = len(vocab.HOUSEHOLD_COLUMNS)
    assert [(c, col) for c, col, _ in said_] == [
        ("unknown_column", "warna rumah"),
        ("unknown_column", ""),
    ]
    assert f"Kolom ke-{width + 2} " in said_[1][2] and "rahasia" not in said_[1][2]


def test_encodings_and_broken_workbooks_are_refused_in_indonesian(
    engine: Engine, tmp_path: Path
) -> None:
    """ "'utf-8' codec can't decode…" and "File is not a zip file" reached operators."""
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(paths[0].read_bytes().replace(b"kk_number", b"kk_n\xfamber", 1))
    error = _refused(engine, [latin, paths[1]])
    assert "UTF-8" in error.message and not ENGLISH.search(error.message.replace("UTF-8", ""))
    late = tmp_path / "late.csv"  # the bad byte far past the header: read by DuckDB
    body = paths[0].read_bytes()
    late.write_bytes(body + body.splitlines(keepends=True)[1].replace(b"Merdeka", b"M\xe9rdeka"))
    error = _refused(engine, [late, paths[1]])
    assert error.row == 4 and not ENGLISH.search(error.message.replace("UTF-8", ""))
    fake = tmp_path / "batch.xlsx"
    fake.write_text("kk_number,nik\n")
    error = _refused(engine, [fake])
    assert "XLSX" in error.message and not ENGLISH.search(error.message)


def test_values_are_printed_without_emoji_nor_markup(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """Rich read `:x:` in a value as an emoji code (a line of /etc/passwd came out with ❌)
    and `[red]` as a style."""
    households, members = two_families()
    members[1]["marital_status"] = ":x: [red]merah[/red]"
    paths = write_batch(tmp_path / "b", households, members)
    result = cli.ok("import", *map(str, paths), "--as", "admin")
    assert "❌" not in result.stdout
    assert '":x: [red]merah[/red]"' in said(result.stdout)


def test_scratch_folders_of_killed_imports_are_removed_not_those_of_running_ones(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import killed outright left its scratch folder (with copies of the batch's rows) for
    good; the next import removes it, and leaves the folder of an import still running."""
    import signal
    import tempfile

    scratch_base = tmp_path / "tmp"
    scratch_base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_base))
    holder = (
        "import sys, time; from lumbung.registry.scratch import scratch_dir\n"
        "with scratch_dir() as path:\n"
        "    (path / 'households.from-xlsx.csv').write_text('rows')\n"
        "    print(path, flush=True); time.sleep(120)\n"
    )
    env = {**os.environ, "TMPDIR": str(scratch_base)}
    killed = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, env=env)
    running = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, env=env)
    try:
        assert killed.stdout is not None and running.stdout is not None
        dead = Path(killed.stdout.readline().decode().strip())
        alive = Path(running.stdout.readline().decode().strip())
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert dead.is_dir() and alive.is_dir()  # a killed process removes nothing
        households, members = two_families()
        run_import(engine, write_batch(tmp_path / "a", households, members))
        assert dead.is_dir()  # a folder a minute old is left: its owner may not hold it yet
        for folder in (dead, alive):  # as if both had been made two minutes ago
            past = time.time() - 120
            os.utime(folder, (past, past))
        households, members = two_families()
        run_import(engine, write_batch(tmp_path / "b", households, members))
        assert not dead.exists()
        assert alive.is_dir() and (alive / "households.from-xlsx.csv").exists()
        # The import's own folder went with it: only the running one is left.
        assert list(scratch_base.iterdir()) == [alive]
    finally:
        running.kill()
        running.wait()
        killed.kill()


# --- 8. output amplification ------------------------------------------------------------------


def _junk_workbook(path: Path, rows: int) -> Path:
    """Both sheets with their headers and `rows` rows of junk in every column."""
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "households"
    for sheet, columns in (
        (first, vocab.HOUSEHOLD_COLUMNS),
        (book.create_sheet("members"), vocab.MEMBER_COLUMNS),
    ):
        sheet.append(list(columns))
        for n in range(rows):
            sheet.append([f"?{n}" for _ in columns])
    book.save(path)
    return path


def test_a_junk_batch_gives_a_bounded_reject_file_that_says_what_it_left_out(
    engine: Engine, tmp_path: Path
) -> None:
    """A workbook of junk made millions of errors and a reject file of 670 MB; the file is now
    bounded, errors first, and ends with a line counting what was left out, as the summary
    does. Nothing is loaded, as before."""
    path = _junk_workbook(tmp_path / "junk.xlsx", 40)
    households, members = two_families()
    good = write_batch(tmp_path / "good", households, members)
    summary = run_import(engine, [path], reject_lines=100)
    total = summary.errors_total + summary.warnings_total
    assert total > 1000 and counts(engine) == (0, 0)
    assert (summary.reject_file_rows, summary.reject_file_omitted) == (100, total - 100)
    assert summary.reject_file is not None
    with open(summary.reject_file, newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 101
    assert {line["severity"] for line in lines[:100]} == {"error"}
    last = lines[-1]
    assert (last["file"], last["row"], last["code"], last["severity"]) == (
        "",
        "0",
        "truncated",
        "note",
    )
    assert f"{total - 100:,}".replace(",", ".") in last["message"]
    # Errors come before warnings in a bounded file: a re-import's warnings do not push them out.
    run_import(engine, good)
    households[1]["toilet"] = "kali"
    again = run_import(engine, write_batch(tmp_path / "again", households, members), reject_lines=2)
    with open(str(again.reject_file), newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["severity"] for line in lines] == ["error", "error", "note"]
    # Under the bound, the file is whole and says nothing more.
    whole = run_import(engine, write_batch(tmp_path / "whole", households, members))
    assert whole.reject_file_omitted == 0
    with open(str(whole.reject_file), newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == whole.errors_total + whole.warnings_total == whole.reject_file_rows
    assert "truncated" not in {line["code"] for line in lines}


def test_the_screen_says_how_much_the_reject_file_left_out(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lumbung.registry import importer

    monkeypatch.setattr(importer, "REJECT_LINES", 10)
    path = _junk_workbook(tmp_path / "junk.xlsx", 5)
    human = said(cli.ok("import", str(path), "--as", "admin").stdout)
    assert "Berkas tolakan memuat 10 masalah pertama (galat lebih dulu);" in human
    machine = cli.json("import", str(path), "--as", "admin")
    assert machine["reject_file_rows"] == 10
    assert (
        machine["reject_file_omitted"] == machine["errors_total"] + machine["warnings_total"] - 10
    )


# --- the same hazards elsewhere on the way in ------------------------------------------------


def test_a_workbook_that_unpacks_too_large_or_breaks_off_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook is measured before it is unpacked (a few MB may hold gigabytes), and a sheet
    whose XML breaks off is refused in Indonesian, not with a parser's traceback."""
    from lumbung.registry import xlsx

    households, members = two_families()
    path = write_xlsx(tmp_path / "batch.xlsx", households, members)
    monkeypatch.setattr(xlsx, "MAX_XLSX_UNPACKED", 1000)
    error = _refused(engine, [path])
    assert "setelah dibuka" in error.message
    monkeypatch.undo()
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                data = data[: len(data) // 2]  # the members sheet breaks off mid-row
            dst.writestr(item, data)
    error = _refused(engine, [broken])
    assert error.file == "broken.xlsx:members" and not ENGLISH.search(error.message)


def test_a_payload_file_is_bounded_and_its_errors_are_in_indonesian(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    bad = tmp_path / "usul.json"
    bad.write_text('{"household": {"kk_number": "1"},, }')
    for given, expected in (
        (str(bad), "Payload bukan JSON yang sah (baris 1, kolom"),
        ("/dev/zero", "bukan berkas biasa"),
    ):
        result = cli.run(
            "request", "propose", "--kind", "new_family", "--payload", given, "--as", "operator"
        )
        assert result.exit_code == 1 and expected in said(result.stderr), result.stderr
        assert "Expecting" not in result.stderr


def test_a_reject_file_that_cannot_be_written_cancels_the_import_plainly(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    members[1]["name"] = ""
    paths = write_batch(tmp_path / "b", households, members)
    (tmp_path / "b" / "rejects").write_text("a file where the folder should be")
    with pytest.raises(ValidationFailed, match="Berkas tolakan tidak bisa ditulis"):
        run_import(engine, paths)
    assert counts(engine) == (0, 0)


def test_whatever_a_command_prints_reaches_the_terminal_escaped() -> None:
    """Every command prints through the one console: an f-string of any command (a cycle's
    label, a user's name) with an escape sequence, a bell, a carriage return or a bidirectional
    override is escaped there, while the console's own styles still work."""
    import io

    from lumbung.cli.common import SafeConsole

    screen = io.StringIO()
    console = SafeConsole(file=screen, force_terminal=True, color_system="standard", width=200)
    label = "PKH-\x1b[2J\x07-T1"
    console.print(f"[red]Siklus[/red] {label} \u202eLABEL\r", highlight=False)
    printed = screen.getvalue()
    assert "\\x1b[2J\\x07" in printed and "\\u202eLABEL\\x0d" in printed
    assert "\x07" not in printed and "\u202e" not in printed and "\r" not in printed
    assert "\x1b[31m" in printed  # the console's own red
    # A value that closes a style never opened is printed as written, not a traceback.
    console.print(f"Pengguna {'[/x]'} dibuat.", highlight=False)
    assert "Pengguna [/x] dibuat." in screen.getvalue()


def test_a_header_of_thousands_of_strange_columns_is_refused_in_a_few_lines(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    lines = paths[0].read_text().splitlines()
    strange = ",".join(f"k{n}" for n in range(5000))
    paths[0].write_text("\n".join([lines[0] + "," + strange, *lines[1:]]) + "\n")
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, paths)
    errors = caught.value.errors
    assert len(errors) == 51 and "… dan 4950 masalah header lain" in errors[-1].message

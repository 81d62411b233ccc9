"""The demo's web accounts: one per role, each with a fresh random password.

Made by `lumbung demo --serve` after the pipeline: an operator of a village that has families,
a verifier of its regency, a determiner (who ran the demo's cycles), a second determiner who
approves them (four eyes), an admin and an auditor. Determiners and the admin set up their
authenticator (TOTP) at their first sign-in, on the enrolment page's QR code.
"""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.errors import LumbungError

# username, full name, role, where (village, regency of that village, or national)
ACCOUNTS = (
    ("operator-desa", "Operator desa (demo)", Role.OPERATOR, "village"),
    ("verifikator-kab", "Verifikator Dinas Sosial kab/kota (demo)", Role.VERIFIER, "regency"),
    ("pusdatin", "Penetap Pusdatin", Role.DETERMINER, None),
    ("penyetuju", "Penyetuju siklus (empat mata)", Role.DETERMINER, None),
    ("admin", "Admin Pusdatin", Role.ADMIN, None),
    ("auditor", "Auditor (demo)", Role.AUDITOR, None),
)
PASSWORD_BYTES = 12  # 16 URL-safe characters


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: str
    region: str | None
    password: str


def demo_village(session: Any, admin: User, households_csv: Path, tries: int = 200) -> str:
    """The village of the first family of the demo batch that is in the registry."""
    from lumbung.registry.service import family_in_scope

    with households_csv.open(newline="", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= tries:
                break
            try:
                return family_in_scope(session, admin, row["kk_number"]).village_code
            except LumbungError:
                continue  # a row the import rejected (the demo batch has noise)
    raise LookupError(f"no family of {households_csv} is in the registry")


def demo_accounts(session: Any, *, households_csv: Path) -> list[DemoAccount]:
    """Create the accounts that do not exist yet, and give every one a new password (the
    demo prints them: a password known only to the person at the terminal)."""
    from lumbung.auth import signin
    from lumbung.auth.service import create_user, get_user

    admin = get_user(session, username="admin")
    village = demo_village(session, admin, households_csv)
    made: list[DemoAccount] = []
    for username, full_name, role, where in ACCOUNTS:
        region = {"village": village, "regency": village[:5], None: None}[where]
        try:
            user = get_user(session, username=username)
        except LumbungError:
            user = create_user(
                session,
                actor=admin,
                username=username,
                full_name=full_name,
                role=role,
                region_code=region,
            )
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        signin.set_password(session, actor=admin, username=username, new=password)
        # The demo's own passwords are printed to the person who runs it; asking them to
        # choose another at once would only slow the first look.
        user.must_change_password = False
        made.append(DemoAccount(username, role.value, user.region_code, password))
    session.flush()
    return made

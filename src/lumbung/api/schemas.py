"""Request and response bodies the services do not already give as typed results.

Most endpoints answer with a service's own result (a frozen dataclass such as
`registry.views.FamilyView`), which FastAPI describes in the OpenAPI from its fields; this
module holds the bodies a client sends and the few shapes a service returns as a dict."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, StringConstraints

from lumbung.auth.roles import Role
from lumbung.paging import Page

T = TypeVar("T")

# Path and query values that reach a query: their form checked before any service runs (a NUL
# byte in a label is refused here as a 422, not by PostgreSQL as a 500).
KK = Annotated[str, StringConstraints(pattern=r"^\d{16}$")]
NIK = KK
REGION = Annotated[str, StringConstraints(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")]
LABEL = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
# Printable text without control characters (names, reasons).
TEXT = r"^[^\x00-\x1f\x7f]*$"


def paged(items: list[T], limit: int, offset: int) -> Page[T]:
    """A page of a short list a service gives whole (users, releases, cycles, programs)."""
    return Page(items[offset : offset + limit], len(items), limit, offset)


class Me(BaseModel):
    """The user a token acts for."""

    username: str
    full_name: str
    role: Role
    region_code: str | None = Field(description="The user's region; null: the nation.")


class NewUser(BaseModel):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT)]
    role: Role
    region_code: REGION | None = None


class NewRequest(BaseModel):
    """A change request: a new family (payload: household + members), or a change to a
    family (`kk_number` and the `base_version` the change was written against)."""

    kind: Literal[
        "new_family",
        "update",
        "update_member",
        "add_member",
        "remove_member",
        "exit",
        "update_account",
    ]
    payload: dict[str, Any]
    kk_number: KK | None = None
    base_version: Annotated[int, Field(ge=1, le=2_000_000_000)] | None = None


class Reason(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=TEXT)]


class Beneficiary(BaseModel):
    kk_number: str
    nik: str | None = Field(description="Masked (a list of people names no one in full).")
    regency_code: str
    amount_idr: int = Field(description="Whole rupiah.")
    components: dict[str, Any] | None
    state: str


class Beneficiaries(BaseModel):
    """One page of a cycle's beneficiaries within the reader's region."""

    cycle: str
    program: str
    state: str
    labels: dict[str, str]
    region: str | None
    regency: str | None
    items: list[Beneficiary]
    total: int
    limit: int
    offset: int

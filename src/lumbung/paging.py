"""One page of a longer list, as every read service returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from lumbung.errors import ValidationFailed

MAX_PAGE = 1000  # rows a reader may ask for at once


@runtime_checkable
class AsDict(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """`items` from `offset` on, at most `limit` of them, out of `total` the reader may see."""

    items: list[T]
    total: int
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": [i.as_dict() if isinstance(i, AsDict) else i for i in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


def check_window(limit: int, offset: int, *, most: int = MAX_PAGE) -> None:
    """Raise ValidationFailed unless 1 <= limit <= most and offset >= 0."""
    if not 1 <= limit <= most:
        raise ValidationFailed(f"--limit harus antara 1 dan {most}.")
    if offset < 0:
        raise ValidationFailed("--offset tidak boleh negatif.")

"""PT Pos counters: redeem a voucher, upload redemptions made offline, fetch the public keys.

These endpoints take a counter's token (`lmc_…`, `lumbung delivery voucher counter-token
create`), not a ministry user's (`lmb_…`): a counter is a partner's machine, bound to its
partner, its counter id and optionally a region. The unit of work is the same as every
endpoint's (one writing transaction on the endpoint's thread, committed before the answer);
what awaits the audit chain's seal is sealed after it, at most about once a second per
process (`delivery.pos.sealing`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from lumbung.api.deps import Database, client_ip, database, routes
from lumbung.api.problems import RateLimited, Unauthenticated
from lumbung.audit.service import set_channel
from lumbung.auth import throttle
from lumbung.db import DbSession, session_scope
from lumbung.delivery.pos import counters, keys, offline, redemption, sealing
from lumbung.errors import PermissionDenied

router = routes(tags=["vouchers"])

counter_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="counterToken",
    description="A PT Pos counter's token (`lmc_…`), issued by an admin: "
    "`Authorization: Bearer lmc_…`.",
)
VOUCHER_CODE = r"^[A-Za-z2-7 ]{132,160}$"


@dataclass(frozen=True, slots=True)
class CounterCall:
    """A counter's request before any database work: its token and address."""

    database: Database
    token: str
    ip: str

    @contextmanager
    def unit(self) -> Iterator[tuple[DbSession, counters.Counter]]:
        engine = self.database.engine
        try:
            with session_scope(engine) as session:
                set_channel(session, "api")
                try:
                    counter = counters.check(session, self.token)
                except PermissionDenied as refused:
                    raise _Refused(refused.message) from None
                yield session, counter
        except _Refused as refused:
            if not self.token.startswith("lmb_"):  # a user's token is the wrong kind, no guess
                with session_scope(engine) as session:
                    set_channel(session, "api")
                    wait = throttle.retry_after(session, ip=self.ip)
                    if wait is not None:
                        raise RateLimited(
                            f"Terlalu banyak token yang gagal dari alamat {self.ip}; "
                            f"coba lagi {wait} detik lagi.",
                            retry_after=wait,
                        ) from None
                    throttle.record_failure(session, ip=self.ip, who=self.token[:12] or "?")
            raise Unauthenticated(refused.reason) from None


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def counter_call(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(counter_bearer)],
) -> CounterCall:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Sertakan token loket: header Authorization: Bearer lmc_….")
    return CounterCall(database(request), credentials.credentials, client_ip(request))


Counter = Annotated[CounterCall, Depends(counter_call)]


class RedeemBody(BaseModel):
    token: Annotated[
        str,
        Field(pattern=VOUCHER_CODE, description="The QR code's text (132 base32 characters)."),
    ]
    nik: Annotated[
        str, Field(pattern=r"^[0-9]{16}$", description="The NIK typed from the KTP (or KK).")
    ]


class OfflineRedemption(RedeemBody):
    redeemed_at: datetime = Field(description="When the counter paid (ISO 8601; no zone: WIB).")
    counter: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


class OfflineUpload(BaseModel):
    redemptions: list[OfflineRedemption] = Field(min_length=1, max_length=10_000)


@router.post(
    "/vouchers/redeem",
    summary="Redeem a voucher at a counter: paid exactly once (counter token)",
    response_model=redemption.Redemption,
    responses={409: {"description": "Already redeemed (when and where), or no longer pending."}},
)
def redeem(body: RedeemBody, call: Counter) -> Response:
    with call.unit() as (session, counter):
        done = redemption.redeem(session, counter=counter, token=body.token, nik=body.nik)
    sealing.seal_if_due(call.database.engine)
    # Written as it is (the documented model's fields): the hot path of the counters skips
    # FastAPI's validation of a result the service has just made.
    return Response(json.dumps(done.as_dict()), media_type="application/json")


@router.post(
    "/vouchers/redemptions",
    summary="Upload redemptions made offline: each paid once, conflicts reported (counter token)",
)
def upload(body: OfflineUpload, call: Counter) -> offline.ReconcileResult:
    rows = [
        offline.OfflineRow(
            line,
            row.token,
            row.nik,
            row.redeemed_at
            if row.redeemed_at.tzinfo
            else row.redeemed_at.replace(tzinfo=redemption.WIB),
            row.counter,
        )
        for line, row in enumerate(body.redemptions, start=1)
    ]
    with call.unit() as (session, counter):
        return offline.reconcile_as_counter(session, counter=counter, rows=rows)


@router.get(
    "/vouchers/public-keys",
    summary="The public keys that verify voucher codes offline (counter token)",
)
def public_keys(call: Counter) -> list[keys.PublicKey]:
    with call.unit():
        return keys.public_list()

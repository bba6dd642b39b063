"""The signed-in customer's profile read without writing anything: the hot read behind `me`."""

from __future__ import annotations

from dataclasses import dataclass

from domain.dependencies import Dependencies
from domain.identity.model import Session, secret_hash
from domain.profile.model import Customer


@dataclass(frozen=True, slots=True)
class SignedInRead:
    """What one read-only look at a request's session found: the live session and its customer
    (None: no live session), or that the request would change the session (``writes_due``)."""

    customer: Customer | None
    writes_due: bool = False
    session: Session | None = None


NOBODY = SignedInRead(None)
WRITES_DUE = SignedInRead(None, writes_due=True)


async def read_signed_in(deps: Dependencies, token: str, gpc_signal: bool) -> SignedInRead:
    """The customer a session token stands for, in one read. When the request would change the
    session, as :func:`domain.identity.use_cases.authenticate` and
    :func:`domain.consent.use_cases.honour_gpc_signal` do (end an expired session, refresh the
    idle clock, start or end a GPC episode), it says so instead, having written nothing: the
    caller then takes the path that makes those writes."""
    now = deps.clock.now()
    async with deps.unit_of_work.reads() as reads:
        found = await reads.customer_reads.me_by_session(secret_hash(token))
    if found is None:
        return NOBODY
    session, customer = found
    if (
        not session.is_active(now, deps.sessions)
        or session.needs_touch(now, deps.sessions)
        or session.gpc_signal != gpc_signal
    ):
        return WRITES_DUE
    return SignedInRead(customer, session=session)

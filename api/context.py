"""The per-request context: who is calling, from where, and what the use cases need."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.credentials import bearer_token
from api.errors import bad_request
from api.pagination import BadCursor, decode_cursor
from api.settings import Settings
from domain.consent import use_cases as consent
from domain.consent.model import ConsentState, Subject
from domain.dependencies import Dependencies
from domain.identity import use_cases as identity
from domain.identity.model import ClientInfo, Session
from domain.partners import use_cases as partners
from domain.partners.model import Partner, looks_like_api_key
from domain.profile.model import Customer as DomainCustomer
from domain.profile.signed_in import read_signed_in
from domain.staff import use_cases as staff
from domain.staff.model import StaffActor, looks_like_staff_token
from domain.webhooks import use_cases as webhooks
from domain.webhooks.model import WebhookAttempt

_UNRESOLVED = object()


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries: list[str]) -> TrustedProxies:
        return cls(tuple(ipaddress.ip_network(entry, strict=False) for entry in entries))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The socket's peer, unless it is a trusted proxy: then the nearest untrusted hop
        named in X-Forwarded-For (hops further left can be forged by the client)."""
        if peer is None or not forwarded_for or not self.trusts(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            if not self.trusts(hop):
                return hop if _is_ip(hop) else peer
        return peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def customer_token(token: str | None) -> str | None:
    """The token, when it may stand for a customer's session: a partner's API key or a staff
    token never does."""
    if token and not looks_like_api_key(token) and not looks_like_staff_token(token):
        return token
    return None


def request_token(request: Request, cookie_name: str) -> str | None:
    """The caller's token, from ``Authorization: Bearer`` or else the session cookie."""
    return bearer_token(request.headers) or request.cookies.get(cookie_name) or None


class Context(BaseContext):
    def __init__(self, deps: Dependencies, settings: Settings, proxies: TrustedProxies) -> None:
        super().__init__()
        self.deps = deps
        self.settings = settings
        self._proxies = proxies
        self._session: object = _UNRESOLVED
        self._partner: object = _UNRESOLVED
        self._staff: object = _UNRESOLVED
        # The session's customer as read with the session, when one read gave both: `me` needs
        # no second read.
        self.signed_in_customer: DomainCustomer | None = None

    @property
    def http(self) -> Request:
        assert isinstance(self.request, Request)
        return self.request

    @cached_property
    def client(self) -> ClientInfo:
        peer = self.http.client.host if self.http.client else None
        ip = self._proxies.client_ip(peer, self.http.headers.get("x-forwarded-for"))
        return ClientInfo(ip=ip, user_agent=self.http.headers.get("user-agent"))

    @cached_property
    def token(self) -> str | None:
        """The session token, from ``Authorization: Bearer`` or else the session cookie."""
        return request_token(self.http, self.settings.cookie_name)

    @property
    def gpc_signal(self) -> bool:
        """The Global Privacy Control signal: the header with exactly the value 1."""
        return self.http.headers.get("sec-gpc") == "1"

    async def partner(self) -> Partner | None:
        """The partner whose API key authenticates this request, looked up once."""
        if self._partner is _UNRESOLVED:
            token = self.token
            self._partner = (
                await partners.authenticate_partner(self.deps, token)
                if token and looks_like_api_key(token)
                else None
            )
        assert self._partner is None or isinstance(self._partner, Partner)
        return self._partner

    async def staff(self) -> StaffActor | None:
        """The member of staff whose session token (bearer only) authenticates this request."""
        if self._staff is _UNRESOLVED:
            token = self.bearer_token
            self._staff = (
                await staff.authenticate_staff(self.deps, token)
                if token and looks_like_staff_token(token)
                else None
            )
        assert self._staff is None or isinstance(self._staff, StaffActor)
        return self._staff

    @cached_property
    def bearer_token(self) -> str | None:
        """The token of ``Authorization: Bearer`` only (staff never use the cookie)."""
        return bearer_token(self.http.headers)

    async def session(self) -> Session | None:
        """The caller's live customer session, looked up once per request; a GPC signal on a
        signed-in request is honoured before anything else happens."""
        if self._session is _UNRESOLVED:
            token = customer_token(self.token)
            self._session = await self._signed_in(token) if token else None
        assert self._session is None or isinstance(self._session, Session)
        return self._session

    async def _signed_in(self, token: str) -> Session | None:
        # One read, no transaction, for the common case; when the request must change the
        # session (expired, idle clock due, a GPC episode starting or ending), the use cases
        # that write do it.
        read = await read_signed_in(self.deps, token, self.gpc_signal)
        if not read.writes_due:
            self.signed_in_customer = read.customer
            return read.session
        session = await identity.authenticate(self.deps, token)
        if session is not None:
            await consent.honour_gpc_signal(self.deps, session, self.gpc_signal, self.client)
        return session

    @cached_property
    def consent_states(self) -> DataLoader[uuid.UUID, dict[Subject, ConsentState]]:
        """Each customer's current choices, read once per request for every field that asks."""

        async def load(ids: Sequence[uuid.UUID]) -> list[dict[Subject, ConsentState]]:
            states = await consent.preferences_of(self.deps, ids)
            return [states.get(customer_id, {}) for customer_id in ids]

        return DataLoader(load_fn=load)

    @cached_property
    def webhook_attempts(self) -> DataLoader[int, list[WebhookAttempt]]:
        """The attempt log of each of the calling partner's deliveries, in one read."""

        async def load(ids: Sequence[int]) -> list[list[WebhookAttempt]]:
            partner = await self.partner()
            assert partner is not None, "only partner fields ask for attempts"
            attempts = await webhooks.delivery_attempts(self.deps, partner, ids)
            return [attempts[delivery_id] for delivery_id in ids]

        return DataLoader(load_fn=load)

    def cursor(self, kind: str, value: str | None) -> int | None:
        """The position behind a cursor argument; a cursor we did not issue is a bad request."""
        try:
            return decode_cursor(kind, value)
        except BadCursor:
            raise bad_request("That cursor is not one this list handed out.") from None

    def forget_session(self) -> None:
        self._session = None
        self.signed_in_customer = None

    def set_session_cookie(self, token: str) -> None:
        assert self.response is not None
        self.response.set_cookie(
            self.settings.cookie_name,
            token,
            max_age=self.settings.session_absolute_hours * 3600,
            path="/",
            secure=self.settings.secure_cookie,
            httponly=True,
            samesite="lax",
        )

    def clear_session_cookie(self) -> None:
        assert self.response is not None
        self.response.delete_cookie(
            self.settings.cookie_name,
            path="/",
            secure=self.settings.secure_cookie,
            httponly=True,
            samesite="lax",
        )

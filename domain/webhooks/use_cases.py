"""Registering and removing a partner's webhook endpoints, and the delivery log it reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.partners.model import Partner
from domain.partners.use_cases import PartnerRefused
from domain.ports import UnitOfWork
from domain.webhooks.model import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_signing_secret,
)
from domain.webhooks.targets import TargetRefused, check_target

MAX_ENDPOINTS_PER_PARTNER = 5
MAX_DELIVERIES_PAGE = 100


@dataclass(frozen=True, slots=True)
class IssuedWebhook:
    partner: Partner
    endpoint: WebhookEndpoint
    secret: str  # shown once; the partner verifies signatures with it


async def add_webhook(deps: Dependencies, partner_name: str, url: str) -> IssuedWebhook:
    """Register a URL to receive the partner's consent events, with a new signing secret."""
    url = url.strip()
    try:
        await check_target(url, deps.webhook_targets, deps.resolver)
    except TargetRefused as refusal:
        raise DomainError.single(ErrorCode.INVALID, str(refusal), "url") from None
    secret = new_signing_secret()
    async with deps.unit_of_work() as uow:
        partner = await _active_partner(uow, partner_name)
        active = [e for e in await uow.webhooks.endpoints_of(partner.id) if e.active]
        if any(e.url == url for e in active):
            raise DomainError.single(
                ErrorCode.DUPLICATE, f"{partner.name} already has a webhook at {url}.", "url"
            )
        if len(active) >= MAX_ENDPOINTS_PER_PARTNER:
            raise DomainError.single(
                ErrorCode.OUT_OF_RANGE,
                f"A partner has at most {MAX_ENDPOINTS_PER_PARTNER} webhooks; remove one first.",
            )
        endpoint = WebhookEndpoint(uuid.uuid4(), partner.id, url, secret, deps.clock.now())
        await uow.webhooks.add_endpoint(endpoint)
        await uow.commit()
    return IssuedWebhook(partner, endpoint, secret)


async def remove_webhook(deps: Dependencies, partner_name: str, url: str) -> tuple[int, Partner]:
    """Stop sending to the URL; what was still waiting for it is given up. Returns how many
    deliveries were given up, and the partner."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        partner = await _active_partner(uow, partner_name)
        found = [e for e in await uow.webhooks.endpoints_of(partner.id) if e.active]
        endpoint = next((e for e in found if e.url == url.strip()), None)
        if endpoint is None:
            raise DomainError.single(
                ErrorCode.INVALID, f"{partner.name} has no webhook at {url}.", "url"
            )
        abandoned = await uow.webhooks.disable_endpoint(endpoint.id, now)
        await uow.commit()
    return abandoned, partner


async def webhook_deliveries(
    deps: Dependencies, partner: Partner, first: int, before_id: int | None
) -> list[WebhookDelivery]:
    """A page of the partner's own deliveries, newest first (one more than asked, to tell
    whether there are more)."""
    if not 0 <= first <= MAX_DELIVERIES_PAGE:
        raise PartnerRefused(f"Ask for 0 to {MAX_DELIVERIES_PAGE} deliveries.")
    async with deps.unit_of_work() as uow:
        return await uow.webhooks.deliveries_of(partner.id, first + 1, before_id)


async def delivery_attempts(
    deps: Dependencies, partner: Partner, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    """The logged attempts of each of the partner's deliveries, oldest first; another
    partner's delivery has none, as far as this partner can tell."""
    async with deps.unit_of_work() as uow:
        attempts = await uow.webhooks.attempts_of(partner.id, delivery_ids)
    found: dict[int, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    for attempt in attempts:
        found[attempt.delivery_id].append(attempt)
    return found


async def _active_partner(uow: UnitOfWork, name: str) -> Partner:
    partner = await uow.partners.by_name(name.strip())
    if partner is None or not partner.active:
        raise DomainError.single(ErrorCode.INVALID, f"No active partner named {name!r}.", "name")
    return partner

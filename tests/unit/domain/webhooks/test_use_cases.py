"""Registering and removing a partner's webhooks."""

from __future__ import annotations

import base64

import pytest

from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.partners import use_cases as partners
from domain.webhooks import use_cases as webhooks
from domain.webhooks.model import DeliveryStatus
from domain.webhooks.use_cases import MAX_ENDPOINTS_PER_PARTNER, IssuedWebhook
from tests.unit.domain.webhooks.conftest import HOOK
from tests.unit.fakes import FakeResolver, InMemoryStore, nothing_written


def refusal(error: pytest.ExceptionInfo[DomainError]) -> set[tuple[tuple[str, ...], ErrorCode]]:
    return {(p.field, p.code) for p in error.value.problems}


async def test_a_webhook_gets_a_standard_webhooks_secret_kept_for_signing(
    store: InMemoryStore, acme: IssuedWebhook
) -> None:
    assert acme.secret.startswith("whsec_")
    assert len(base64.b64decode(acme.secret.removeprefix("whsec_"))) == 32
    assert acme.secret not in repr(acme.endpoint)
    (stored,) = store.committed.webhook_endpoints.values()
    assert stored.secret == acme.secret
    assert stored.url == HOOK


async def test_a_url_the_rules_forbid_is_refused_and_nothing_is_written(
    deps: Dependencies, store: InMemoryStore, resolver: FakeResolver
) -> None:
    await partners.create_partner(deps, "Acme", [SharingPurpose.PARTNER_OFFERS])
    resolver.answers["rebound.acme.example"] = ["10.0.0.7"]
    for url in ("http://127.0.0.1/hooks", "https://rebound.acme.example/hooks"):
        with nothing_written(store), pytest.raises(DomainError) as error:
            await webhooks.add_webhook(deps, "Acme", url)
        assert refusal(error) == {(("url",), ErrorCode.INVALID)}


async def test_the_same_url_twice_an_unknown_partner_and_too_many_webhooks_are_refused(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, resolver: FakeResolver
) -> None:
    with pytest.raises(DomainError) as twice:
        await webhooks.add_webhook(deps, "Acme", HOOK)
    assert refusal(twice) == {(("url",), ErrorCode.DUPLICATE)}
    with pytest.raises(DomainError) as unknown:
        await webhooks.add_webhook(deps, "Initech", HOOK)
    assert refusal(unknown) == {(("name",), ErrorCode.INVALID)}
    for n in range(1, MAX_ENDPOINTS_PER_PARTNER):
        await webhooks.add_webhook(deps, "Acme", f"{HOOK}/{n}")
    with nothing_written(store), pytest.raises(DomainError) as full:
        await webhooks.add_webhook(deps, "Acme", f"{HOOK}/more")
    assert refusal(full) == {((), ErrorCode.OUT_OF_RANGE)}


async def test_removing_a_webhook_gives_up_what_waited_for_it(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook
) -> None:
    from tests.unit.domain.webhooks.test_delivery import queue_one

    await queue_one(deps)
    abandoned, partner = await webhooks.remove_webhook(deps, "Acme", HOOK)
    assert (abandoned, partner.name) == (1, "Acme")
    (delivery,) = store.committed.webhook_deliveries.values()
    assert delivery.status is DeliveryStatus.FAILED
    assert not store.committed.webhook_endpoints[acme.endpoint.id].active
    with pytest.raises(DomainError):
        await webhooks.remove_webhook(deps, "Acme", HOOK)
    # the URL can be registered again, with a new secret
    again = await webhooks.add_webhook(deps, "Acme", HOOK)
    assert again.secret != acme.secret

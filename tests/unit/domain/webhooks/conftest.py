"""A partner with a webhook, and a customer whose choices it hears about."""

from __future__ import annotations

import pytest

from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.identity.use_cases import SignedIn
from domain.partners import use_cases as partners
from domain.profile import use_cases as profile
from domain.webhooks import use_cases as webhooks
from domain.webhooks.use_cases import IssuedWebhook
from tests.unit.examples import CLIENT, PASSWORD, card_form, registration_values
from tests.unit.fakes import (
    FakeClock,
    FakePasswordHasher,
    FakeRateLimiter,
    FakeResolver,
    InMemoryStore,
    fake_dependencies,
)

HOOK = "https://hooks.acme.example/consent"
OTHER_HOOK = "https://hooks.globex.example/consent"
PUBLIC = "93.184.216.34"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver({"hooks.acme.example": [PUBLIC], "hooks.globex.example": [PUBLIC]})


@pytest.fixture
def deps(
    store: InMemoryStore,
    clock: FakeClock,
    hasher: FakePasswordHasher,
    limiter: FakeRateLimiter,
    resolver: FakeResolver,
) -> Dependencies:
    """Production's rules for webhook URLs, with a DNS the test controls."""
    return fake_dependencies(store, clock, hasher, limiter, resolver)


@pytest.fixture
async def ada(deps: Dependencies) -> SignedIn:
    return await profile.register(deps, registration_values(), card_form(), PASSWORD, CLIENT)


@pytest.fixture
async def acme(deps: Dependencies) -> IssuedWebhook:
    """A partner registered for partner offers, with one webhook."""
    await partners.create_partner(deps, "Acme", [SharingPurpose.PARTNER_OFFERS])
    return await webhooks.add_webhook(deps, "Acme", HOOK)

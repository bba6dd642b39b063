"""In-memory dependencies for the unit tests; they replace the database-backed fixtures of the
same names in ``tests/conftest.py``."""

from __future__ import annotations

import pytest

from domain.dependencies import Dependencies
from tests.unit.fakes import (
    FakeClock,
    FakePasswordHasher,
    FakeRateLimiter,
    InMemoryStore,
    fake_dependencies,
)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def limiter() -> FakeRateLimiter:
    return FakeRateLimiter()


@pytest.fixture
def deps(
    store: InMemoryStore, clock: FakeClock, hasher: FakePasswordHasher, limiter: FakeRateLimiter
) -> Dependencies:
    return fake_dependencies(store, clock, hasher, limiter)

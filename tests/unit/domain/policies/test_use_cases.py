"""Publishing a policy version and acknowledging it, through in-memory ports. The unit-test
clock stands on Saturday 15 June 2030, 09:00 UTC."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, FieldPath
from domain.identity.use_cases import SignedIn
from domain.policies import use_cases as policies
from domain.profile import use_cases as profile
from tests.unit.examples import CLIENT, PASSWORD, card_form, registration_values, reported
from tests.unit.fakes import FakeClock, InMemoryStore, nothing_written

# Juneteenth and Independence Day are holidays: Monday 29 July 2030 is the 29th business day
# after Saturday 15 June, Tuesday the 30th the 30th.
TOO_SOON = datetime(2030, 7, 29, 12, 0, tzinfo=UTC)
EARLIEST = datetime(2030, 7, 30, 0, 0, tzinfo=UTC)
URL = "https://example.com/privacy/2030-07"


async def refused(call: Awaitable[object]) -> set[tuple[FieldPath, ErrorCode]]:
    with pytest.raises(DomainError) as error:
        await call
    return reported(error.value.problems)


async def publish(deps: Dependencies, version: str = "2030-07", **changes: object) -> object:
    values: dict[str, object] = {
        "version": version,
        "summary": "We now name the partners that receive aggregate statistics.",
        "url": URL,
        "effective_at": EARLIEST,
        **changes,
    }
    return await policies.publish_policy_version(deps, None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def ada(deps: Dependencies) -> SignedIn:
    return await profile.register(deps, registration_values(), card_form(), PASSWORD, CLIENT)


async def test_a_version_30_business_days_out_is_published_with_a_notice_to_each_customer(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    published = await policies.publish_policy_version(
        deps, None, "2030-07", "What changes.", URL, EARLIEST
    )
    assert published.notices_queued == 1
    assert published.policy.announced_at == deps.clock.now()
    notice = store.committed.outbox[-1]
    assert (notice.kind, notice.reference, notice.to) == (
        "POLICY_NOTICE",
        "2030-07",
        ada.customer.profile.email,
    )
    assert "Tuesday 30 July 2030" in notice.subject
    assert URL in notice.body


async def test_one_day_short_of_the_notice_is_refused_naming_the_earliest_date(
    deps: Dependencies, store: InMemoryStore
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as error:
        await publish(deps, effective_at=TOO_SOON)
    (problem,) = error.value.problems
    assert (problem.field, problem.code) == (("effective_at",), ErrorCode.NOTICE_TOO_SHORT)
    assert "Tuesday 30 July 2030 (2030-07-30, UTC)" in problem.message


async def test_every_bad_field_is_reported_at_once(
    deps: Dependencies, store: InMemoryStore
) -> None:
    with nothing_written(store):
        problems = await refused(
            publish(
                deps,
                version="new version!",
                summary="  ",
                url="http://example.com/privacy",
                effective_at=datetime(2030, 9, 1, 0, 0),
            )
        )
    assert problems == {
        (("version",), ErrorCode.INVALID),
        (("summary",), ErrorCode.REQUIRED),
        (("url",), ErrorCode.INVALID),
        (("effective_at",), ErrorCode.INVALID),
    }


@pytest.mark.parametrize(
    "url",
    [
        "example.com/privacy",
        "https://",
        "https://user:secret@example.com/privacy",
        "https://example.com/pri vacy",
        "javascript:alert(1)",
        "https://example.com:99999/",
    ],
)
async def test_only_an_absolute_https_address_will_do(deps: Dependencies, url: str) -> None:
    assert await refused(publish(deps, url=url)) == {(("url",), ErrorCode.INVALID)}


async def test_limits_on_length(deps: Dependencies) -> None:
    problems = await refused(
        publish(
            deps,
            version="v" * 41,
            summary="s" * 2001,
            url="https://example.com/" + "p" * 1990,
        )
    )
    assert problems == {
        (("version",), ErrorCode.TOO_LONG),
        (("summary",), ErrorCode.TOO_LONG),
        (("url",), ErrorCode.TOO_LONG),
    }


async def test_a_version_name_is_used_once(deps: Dependencies, store: InMemoryStore) -> None:
    await publish(deps)
    with nothing_written(store):
        problems = await refused(publish(deps, effective_at=TOO_SOON))
    assert problems == {
        (("version",), ErrorCode.DUPLICATE),
        (("effective_at",), ErrorCode.NOTICE_TOO_SHORT),
    }


async def test_the_upcoming_version_takes_over_on_its_day(
    deps: Dependencies, clock: FakeClock
) -> None:
    await publish(deps)
    assert await policies.current_policy(deps) is None
    upcoming = await policies.upcoming_policy(deps)
    assert upcoming is not None and upcoming.version == "2030-07"
    clock.current = EARLIEST
    current = await policies.current_policy(deps)
    assert current is not None and current.version == "2030-07"
    assert await policies.upcoming_policy(deps) is None


async def test_acknowledging_is_for_the_current_or_upcoming_version_and_happens_once(
    deps: Dependencies, clock: FakeClock, ada: SignedIn
) -> None:
    await publish(deps, "2030-07")
    first = await policies.acknowledge_policy(deps, ada.session, "2030-07")
    clock.advance(hours=1)
    again = await policies.acknowledge_policy(deps, ada.session, "2030-07")
    assert again == first
    assert await refused(policies.acknowledge_policy(deps, ada.session, "1999")) == {
        (("version",), ErrorCode.NOT_FOUND)
    }
    # a later version takes effect: the first is superseded
    await publish(deps, "2030-09", effective_at=datetime(2030, 9, 2, tzinfo=UTC))
    clock.current = datetime(2030, 9, 2, 1, 0, tzinfo=UTC)
    assert await refused(policies.acknowledge_policy(deps, ada.session, "2030-07")) == {
        (("version",), ErrorCode.INVALID_STATE)
    }
    acknowledged = await policies.acknowledgements_of(deps, ada.customer.id)
    assert [a.version for a in acknowledged] == ["2030-07"]
    assert acknowledged[0].acknowledged_at == first.acknowledged_at
    assert first.acknowledged_at < clock.now() - timedelta(days=30)

"""Registering, correcting and removing profile information, through in-memory ports."""

from __future__ import annotations

import pytest

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, FieldPath, RateLimited
from domain.identity import use_cases as identity
from domain.identity.model import secret_hash
from domain.identity.use_cases import SignedIn
from domain.ports import Throttle
from domain.profile import use_cases
from domain.profile.card import CardForm
from domain.profile.policy import PATCHABLE_FIELDS, FieldSpec
from tests.unit.examples import (
    CLIENT,
    EXP_YEAR,
    MASTERCARD,
    PASSWORD,
    VISA,
    card_form,
    registration_values,
    reported,
)
from tests.unit.fakes import FakeRateLimiter, InMemoryStore, code_in, nothing_written

ADA = "ada@example.com"
USERS = ("billing", "organization_users")
MANDATORY = [spec for spec in PATCHABLE_FIELDS if spec.mandatory]


async def register(
    deps: Dependencies,
    values: dict[FieldPath, object] | None = None,
    card: CardForm | None = None,
    password: str = PASSWORD,
) -> SignedIn:
    return await use_cases.register(
        deps, values or registration_values(), card or card_form(), password, CLIENT
    )


@pytest.fixture
async def ada(deps: Dependencies) -> SignedIn:
    """Ada, registered with a title and an industry, and signed in."""
    values = {**registration_values(), ("title",): "Countess", ("industry",): "Computing"}
    return await register(deps, values)


# register


async def test_registration_reports_every_problem_at_once_and_writes_nothing(
    deps: Dependencies, store: InMemoryStore
) -> None:
    # given
    values = {
        **registration_values(),
        ("name",): None,
        ("company_name",): "   ",
        ("email",): "not-an-address",
        ("address", "country"): "XX",
        USERS: 0,
    }
    card = CardForm("4242 4242 4242 4241", exp_month=13, exp_year=EXP_YEAR, cvc="123")

    # when
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await register(deps, values, card, password="too short")

    # then
    assert reported(refused.value.problems) == {
        (("name",), ErrorCode.REQUIRED),
        (("company_name",), ErrorCode.REQUIRED),
        (("email",), ErrorCode.INVALID_EMAIL),
        (("address", "country"), ErrorCode.INVALID_COUNTRY),
        (USERS, ErrorCode.OUT_OF_RANGE),
        (("password",), ErrorCode.PASSWORD_TOO_SHORT),
        (("billing", "card", "number"), ErrorCode.CARD_NUMBER_INVALID),
        (("billing", "card", "exp_month"), ErrorCode.OUT_OF_RANGE),
    }


async def test_registration_without_a_card_asks_for_one(
    deps: Dependencies, store: InMemoryStore
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.register(deps, registration_values(), None, PASSWORD, CLIENT)

    assert reported(refused.value.problems) == {(("billing", "card"), ErrorCode.REQUIRED)}


async def test_registration_keeps_the_profile_normalised_and_signs_the_customer_in(
    deps: Dependencies, store: InMemoryStore
) -> None:
    # when
    signed_in = await register(deps)

    # then
    customer = store.customer(signed_in.customer.id)
    assert customer.email == ADA
    assert customer.profile.address.country == "GB"
    assert customer.profile.phone == "+442079460958"
    assert customer.profile.title is None
    assert not customer.email_verified
    session = store.committed.sessions[signed_in.session.id]
    assert session.token_hash == secret_hash(signed_in.token)
    assert [(e.customer_id, e.ip) for e in store.committed.sign_ins] == [(customer.id, CLIENT.ip)]
    assert [m.kind for m in store.mail_to(ADA)] == ["EMAIL_VERIFICATION"]
    assert store.commits == 1


async def test_registration_keeps_only_a_vault_token_of_the_card(
    deps: Dependencies, store: InMemoryStore
) -> None:
    signed_in = await register(deps, card=card_form("4242-4242-4242-4242"))

    card = store.customer(signed_in.customer.id).profile.billing.card
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("VISA", "4242", 12, EXP_YEAR)
    assert store.committed.vault[card.vault_token].number == VISA
    assert VISA not in repr(store.customer(signed_in.customer.id))


async def test_a_national_phone_number_is_read_in_the_country_of_the_address(
    deps: Dependencies, store: InMemoryStore
) -> None:
    values = {**registration_values(), ("phone",): "020 7946 0958"}

    signed_in = await register(deps, values)

    assert store.customer(signed_in.customer.id).profile.phone == "+442079460958"


async def test_registration_with_an_address_already_registered_is_refused(
    deps: Dependencies, store: InMemoryStore
) -> None:
    # given
    await register(deps)
    values = {**registration_values(), ("email",): " ADA@example.COM "}

    # when
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await register(deps, values)

    # then
    assert reported(refused.value.problems) == {(("email",), ErrorCode.EMAIL_TAKEN)}


async def test_a_declined_card_is_reported_at_the_card_and_nothing_is_written(
    deps: Dependencies, store: InMemoryStore
) -> None:
    store.declined_numbers.add(VISA)

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await register(deps)

    assert reported(refused.value.problems) == {(("billing", "card"), ErrorCode.CARD_DECLINED)}


async def test_too_many_registrations_from_one_address_are_refused(
    deps: Dependencies, store: InMemoryStore, limiter: FakeRateLimiter
) -> None:
    assert CLIENT.ip is not None
    limiter.counts[Throttle.REGISTRATION_IP, CLIENT.ip] = limiter.limits[Throttle.REGISTRATION_IP]

    with nothing_written(store), pytest.raises(RateLimited) as refused:
        await register(deps)

    assert refused.value.retry_after >= 1


async def test_registration_refuses_a_password_built_from_the_customers_name(
    deps: Dependencies, store: InMemoryStore
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await register(deps, password="LovelaceAnalytical")

    assert reported(refused.value.problems) == {(("password",), ErrorCode.PASSWORD_TOO_COMMON)}


# update_profile


@pytest.mark.parametrize("spec", MANDATORY, ids=lambda spec: spec.key)
async def test_a_mandatory_field_cannot_be_emptied(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, spec: FieldSpec
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(deps, ada.session, {spec.path: None})

    assert reported(refused.value.problems) == {(spec.path, ErrorCode.REQUIRED)}


async def test_an_optional_field_set_to_none_is_cleared(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # when
    await use_cases.update_profile(deps, ada.session, {("title",): None})

    # then
    profile = store.customer(ada.customer.id).profile
    assert profile.title is None
    assert profile.industry == "Computing"


async def test_a_corrected_field_is_stored_normalised(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await use_cases.update_profile(
        deps, ada.session, {("phone",): "020 7946 0959", ("address", "line2"): " Floor 2 "}
    )

    address = store.customer(ada.customer.id).profile.address
    assert store.customer(ada.customer.id).profile.phone == "+442079460959"
    assert address.line2 == "Floor 2"


async def test_every_problem_with_a_correction_is_reported_and_nothing_changes(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    patch = {("name",): None, ("address", "country"): "XX", ("employee_count",): 0}

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(deps, ada.session, patch)

    assert reported(refused.value.problems) == {
        (("name",), ErrorCode.REQUIRED),
        (("address", "country"), ErrorCode.INVALID_COUNTRY),
        (("employee_count",), ErrorCode.OUT_OF_RANGE),
    }


async def test_the_card_and_unknown_paths_cannot_be_patched(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    patch: dict[FieldPath, object] = {("billing", "card"): None, ("password",): "x"}

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(deps, ada.session, patch)

    assert reported(refused.value.problems) == {
        (("billing", "card"), ErrorCode.NOT_A_FIELD),
        (("password",), ErrorCode.NOT_A_FIELD),
    }


async def test_a_correction_that_changes_nothing_writes_nothing(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store):
        await use_cases.update_profile(
            deps, ada.session, {("name",): " Ada Lovelace ", ("email",): "ADA@example.com"}
        )


# remove_optional_information


async def test_removing_mandatory_or_unknown_fields_is_refused_at_their_index(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    keys = ["TITLE", "NAME", "NOT_A_THING", "BILLING_CARD", "title"]

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.remove_optional_information(deps, ada.session, keys)

    assert reported(refused.value.problems) == {
        (("fields", "1"), ErrorCode.NOT_OPTIONAL),
        (("fields", "2"), ErrorCode.NOT_A_FIELD),
        (("fields", "3"), ErrorCode.NOT_OPTIONAL),
        (("fields", "4"), ErrorCode.NOT_A_FIELD),
    }


async def test_optional_information_is_removed_in_one_go(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await use_cases.remove_optional_information(deps, ada.session, ["TITLE", "INDUSTRY"])

    profile = store.customer(ada.customer.id).profile
    assert (profile.title, profile.industry) == (None, None)
    assert profile.name == "Ada Lovelace"


# changing the e-mail address


async def test_a_new_email_address_needs_the_current_password(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(deps, ada.session, {("email",): "countess@example.org"})

    assert reported(refused.value.problems) == {(("current_password",), ErrorCode.REQUIRED)}


async def test_a_new_email_address_with_a_wrong_password_is_refused(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(
            deps, ada.session, {("email",): "countess@example.org"}, current_password="nope"
        )

    assert reported(refused.value.problems) == {(("current_password",), ErrorCode.WRONG_PASSWORD)}


async def test_a_new_email_address_must_be_verified_again_and_the_old_one_is_told(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # given: Ada verified her first address
    await identity.verify_email(deps, code_in(store.mail_to(ADA)[0]), CLIENT)
    assert store.customer(ada.customer.id).email_verified

    # when
    await use_cases.update_profile(
        deps, ada.session, {("email",): "Countess@Example.org"}, current_password=PASSWORD
    )

    # then
    customer = store.customer(ada.customer.id)
    assert customer.email == "countess@example.org"
    assert not customer.email_verified
    assert [m.kind for m in store.mail_to(ADA)] == ["EMAIL_VERIFICATION", "EMAIL_CHANGED"]
    assert [m.kind for m in store.mail_to("countess@example.org")] == ["EMAIL_VERIFICATION"]


async def test_a_verification_code_sent_to_the_old_address_no_longer_verifies(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    old_code = code_in(store.mail_to(ADA)[0])
    await use_cases.update_profile(
        deps, ada.session, {("email",): "countess@example.org"}, current_password=PASSWORD
    )

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await identity.verify_email(deps, old_code, CLIENT)

    assert reported(refused.value.problems) == {((), ErrorCode.INVALID_TOKEN)}


async def test_an_email_address_held_by_another_customer_cannot_be_taken(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await register(deps, {**registration_values(), ("email",): "grace@example.com"})

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_profile(
            deps, ada.session, {("email",): "Grace@example.com"}, current_password=PASSWORD
        )

    assert reported(refused.value.problems) == {(("email",), ErrorCode.EMAIL_TAKEN)}


# update_payment_card


async def test_a_new_card_replaces_the_old_one_which_the_vault_forgets(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # given
    old_token = store.customer(ada.customer.id).profile.billing.card.vault_token

    # when
    await use_cases.update_payment_card(deps, ada.session, card_form(MASTERCARD))

    # then
    card = store.customer(ada.customer.id).profile.billing.card
    assert (card.brand, card.last4) == ("MASTERCARD", "4444")
    assert old_token not in store.committed.vault
    assert list(store.committed.vault) == [card.vault_token]
    assert store.committed.vault[card.vault_token].number == MASTERCARD


async def test_a_bad_new_card_is_refused_with_every_problem_under_card(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    card = CardForm("5555 5555 5555 4440", exp_month=0, exp_year=EXP_YEAR, cvc="12")

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_payment_card(deps, ada.session, card)

    assert reported(refused.value.problems) == {
        (("card", "number"), ErrorCode.CARD_NUMBER_INVALID),
        (("card", "exp_month"), ErrorCode.OUT_OF_RANGE),
        (("card", "cvc"), ErrorCode.CARD_CVC_INVALID),
    }


async def test_a_declined_new_card_leaves_the_old_one_on_file(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    store.declined_numbers.add(MASTERCARD)

    with nothing_written(store), pytest.raises(DomainError) as refused:
        await use_cases.update_payment_card(deps, ada.session, card_form(MASTERCARD))

    assert reported(refused.value.problems) == {(("card",), ErrorCode.CARD_DECLINED)}

"""A password, a session token, a staff token or a partner API key never comes back in a
response or a log line, whatever way a client sends it: in a variable of the wrong type, to a
field that does not exist, as a literal of the wrong type, in a malformed document, as an
undeclared variable, or in the operation name. (Card numbers and security codes are covered by
test_card_data_never_kept.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from domain.staff.model import StaffRole
from tests.api.documents import CHANGE_PASSWORD, LOGIN, RESET_PASSWORD
from tests.api.helpers import register, staff_token
from tests.factories import PASSWORD
from tests.graphql import GraphQLClient

NEW_PASSWORD = "Quasar-Lantern-Harbour-5512-zebra"
STATES = "query ($ids: [ID!]!) { consentStates(customerIds: $ids) { granted } }"


def every_way(secret: str, email: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(document, variables) pairs that carry ``secret`` in every wrong place we could think
    of, plus one right place (a wrong password on login)."""
    quoted = json.dumps(secret)
    return [
        # a wrong password, where it belongs
        (LOGIN, {"input": {"email": email, "password": secret}}),
        # wrong types in variables
        (LOGIN, {"input": {"email": email, "password": [secret]}}),
        (LOGIN, {"input": {"email": email, "password": {"value": secret}}}),
        (LOGIN, {"input": {"email": [secret], "password": 1}}),
        (RESET_PASSWORD, {"input": {"token": {"t": secret}, "newPassword": [secret]}}),
        (STATES, {"ids": secret}),
        (STATES, {"ids": [{"id": secret}]}),
        # fields that do not exist
        (LOGIN, {"input": {"email": email, "password": "x", "passwd": secret}}),
        (CHANGE_PASSWORD, {"input": {"currentPassword": secret, "newPasword": secret}}),
        # literals of the wrong type, and to unknown fields, inline in the document
        (f"mutation {{ login(input: {{email: {quoted}, password: 5}}) {{ token }} }}", None),
        (
            f'mutation {{ login(input: {{email: "a@b.example", password: [{quoted}]}}) '
            "{ token } }",
            None,
        ),
        (
            f'mutation {{ login(input: {{email: "a@b.example", password: "x", pin: {quoted}}}) '
            "{ token } }",
            None,
        ),
        (f"{{ consentStates(customerIds: [{quoted}], purposes: {quoted}) {{ granted }} }}", None),
        # malformed documents
        (f'mutation {{ login(input: {{email: "a@b.example", password: {quoted}', None),
        (f"query {{ me {{ id }} }} {quoted}", None),
        (f"{quoted} mutation {{ logout {{ ended }} }}", None),
        # a variable nobody declared, and one declared with another type
        ("query { me { id } }", {"token": secret}),
        ("query ($t: Int) { me { id } }", {"t": secret}),
    ]


@pytest.mark.parametrize("kind", ["password", "session token", "staff token", "api key"])
async def test_no_response_or_log_line_holds_the_secret(
    client: GraphQLClient,
    deps: Dependencies,
    captured_logs: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    token, customer = await register(client)
    secrets = {
        "password": NEW_PASSWORD,
        "session token": token,
        "staff token": await staff_token(client, deps, StaffRole.SUPPORT),
        "api key": (
            await partners.create_partner(deps, "Leaky", [SharingPurpose.PARTNER_OFFERS])
        ).key,
    }
    secret = secrets[kind]
    captured_logs.clear()
    bodies: list[str] = []
    for document, variables in every_way(secret, customer["email"]):
        response = await client.post(document, variables, token=token)
        assert response.status_code < 500, response.text
        bodies.append(response.text)
        # the operation name is the client's own text, and ends up in logs as such
        named = await client.http.post(
            "/graphql",
            json={"query": document, "variables": variables, "operationName": secret},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert named.status_code < 500, named.text
        bodies.append(named.text)
    logged = [record.getMessage() for record in captured_logs.records]
    logged += [repr(record.__dict__) for record in captured_logs.records]
    for where, texts in (("response", bodies), ("log", logged)):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"the {kind} is in a {where}: {leaks[0][:300]}"
    # and the account still works with its own password (nothing was changed on the way)
    signed_in = await client.data(
        LOGIN, {"input": {"email": customer["email"], "password": PASSWORD}}
    )
    assert signed_in["login"]["errors"] == []

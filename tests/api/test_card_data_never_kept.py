"""PCI: the card number and the security code appear in no table, response or log line,
whatever way they are sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import inspect as schema_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import metadata
from tests.api.documents import REGISTER, UPDATE_CARD, UPDATE_PROFILE
from tests.api.helpers import register
from tests.factories import MASTERCARD, VISA, registration
from tests.graphql import GraphQLClient

CVC = "739"
AMEX_CVC = "8214"
NUMBERS = [VISA, MASTERCARD, "378282246310005"]


def spellings(number: str) -> list[str]:
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return [number, " ".join(groups), "-".join(groups)]


async def every_stored_value(engine: AsyncEngine) -> list[str]:
    values: list[str] = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                for value in row:
                    if isinstance(value, bytes):
                        values += [value.hex(), value.decode("latin-1")]
                    else:
                        values.append(str(value))
    return values


CARD_AS_WRONG_TYPE = """
mutation { updatePaymentCard(input: {card: {number: %s, expMonth: 1, expYear: 2031, cvc: %s}}) {
  errors { code } } }
"""


async def send_card_every_way(client: GraphQLClient, token: str) -> list[str]:
    """Each way a client might send a card, right or wrong; returns the response bodies."""
    bodies: list[str] = []

    async def post(document: str, variables: dict[str, Any] | None = None) -> None:
        response = await client.post(document, variables, token=token)
        bodies.append(response.text)

    good = {"number": MASTERCARD, "expMonth": 3, "expYear": 2032, "cvc": CVC}
    await post(UPDATE_CARD, {"input": {"card": good}})
    # a number that fails Luhn, and an expired card
    await post(UPDATE_CARD, {"input": {"card": {**good, "number": MASTERCARD[:-1] + "5"}}})
    await post(UPDATE_CARD, {"input": {"card": {**good, "expYear": 2020}}})
    # wrong types in variables: the number as an integer, the CVC as an integer
    await post(UPDATE_CARD, {"input": {"card": {**good, "number": int(VISA)}}})
    await post(UPDATE_CARD, {"input": {"card": {**good, "cvc": int(CVC)}}})
    # to fields that do not exist
    await post(UPDATE_CARD, {"input": {"card": {**good, "pan": VISA, "cvv": CVC}}})
    await post(UPDATE_CARD, {"input": {"cardNumber": VISA, "card": good}})
    # inline in the document, as literals of the wrong type
    await post(CARD_AS_WRONG_TYPE % (VISA, CVC))
    await post(CARD_AS_WRONG_TYPE % (f'"{VISA}"', CVC))
    # in a malformed document
    await post(f'mutation {{ updatePaymentCard(input: {{card: {{number: "{VISA}", cvc: "{CVC}"')
    # an AMEX through registration, with a wrong field
    amex = {"number": "3782 822463 10005", "expMonth": 5, "expYear": 2033, "cvc": AMEX_CVC}
    reg = registration(email="amex@example.com")
    reg["billing"]["card"] = amex
    await post(REGISTER, {"input": reg})
    reg["billing"]["card"] = {**amex, "securityCode": AMEX_CVC}
    await post(REGISTER, {"input": {**reg, "email": "amex2@example.com"}})
    # in free-text fields of the profile
    await post(REGISTER, {"input": {**registration(email="t@example.com"), "title": VISA}})
    await post(UPDATE_PROFILE, {"input": {"industry": f"card {MASTERCARD} exp 03/32"}})
    await post(UPDATE_PROFILE, {"input": {"address": {"line2": "4242-4242-4242-4242"}}})
    return bodies


async def test_no_table_response_or_log_line_holds_a_card_number_or_code(
    client: GraphQLClient, engine: AsyncEngine, captured_logs: pytest.LogCaptureFixture
) -> None:
    # given
    token, _ = await register(client)
    # when
    bodies = await send_card_every_way(client, token)
    # then the cards were accepted where valid
    assert '"errors":[]' in bodies[0].replace(" ", "")
    stored = await every_stored_value(engine)
    logged = [record.getMessage() for record in captured_logs.records]
    logged += [repr(record.__dict__) for record in captured_logs.records]
    for number in NUMBERS:
        for spelling in spellings(number):
            for where, texts in (("table", stored), ("response", bodies), ("log", logged)):
                leaks = [text for text in texts if spelling in text]
                assert not leaks, f"{spelling} found in a {where}: {leaks[0][:300]}"
    # the code: no stored value is it, and no error message repeats it
    assert CVC not in stored
    assert AMEX_CVC not in stored
    for body in bodies:
        for error in json.loads(body).get("errors", []):
            assert CVC not in error["message"]
            assert AMEX_CVC not in error["message"]


async def test_no_column_is_meant_for_a_card_number_or_security_code(engine: AsyncEngine) -> None:
    def columns(sync_conn: Any) -> list[str]:
        inspector = schema_inspect(sync_conn)
        return [
            f"{table}.{column['name']}"
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
        ]

    async with engine.connect() as conn:
        names = await conn.run_sync(columns)

    def suspicious(column: str) -> bool:
        words = set(column.split("_"))
        return bool(words & {"cvc", "cvv", "cvv2", "pan"}) or any(
            phrase in column for phrase in ("security_code", "card_number", "cardnumber")
        )

    assert not [name for name in names if suspicious(name.split(".")[1])]

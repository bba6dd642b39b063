"""Valid inputs to start from; each test changes only what it is about."""

from __future__ import annotations

import copy
from typing import Any

VISA = "4242424242424242"
VISA_SPACED = "4242 4242 4242 4242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet kettle drums at noon"

_REGISTRATION: dict[str, Any] = {
    "email": "ada@example.com",
    "password": PASSWORD,
    "name": "Ada Lovelace",
    "companyName": "Analytical Engines Ltd",
    "address": {
        "line1": "12 St James's Square",
        "city": "London",
        "postalCode": "SW1Y 4JH",
        "country": "GB",
    },
    "phone": "+44 20 7946 0958",
    "billing": {
        "name": "Analytical Engines Ltd",
        "address": {
            "line1": "12 St James's Square",
            "line2": "Accounts",
            "city": "London",
            "postalCode": "SW1Y 4JH",
            "country": "GB",
        },
        "organizationUsers": 12,
        "card": {"number": VISA_SPACED, "expMonth": 12, "expYear": 2031, "cvc": "123"},
    },
}


def registration(**changes: Any) -> dict[str, Any]:
    """A complete registration input with ``changes`` applied on top (None removes a key)."""
    value = copy.deepcopy(_REGISTRATION)
    for key, new in changes.items():
        if new is None:
            value.pop(key, None)
        else:
            value[key] = new
    return value

"""The worker's HTTP sender against a real receiver: signed, pinned to the checked address,
and never following a redirect."""

from __future__ import annotations

from datetime import UTC, datetime

from api.network import HttpxWebhookSender, SystemResolver, pinned_url
from domain.ports import OutgoingWebhook
from domain.webhooks.model import new_signing_secret
from tests.api.webhook_receiver import Receiver, closed_port

BODY = '{"type":"consent.changed","data":{}}'


def webhook(url: str, secret: str, connect_to: str | None = None) -> OutgoingWebhook:
    return OutgoingWebhook(url, connect_to, "evt_7", datetime.now(UTC), BODY, secret)


async def test_a_webhook_is_posted_with_standard_webhooks_headers_that_verify(
    receiver: Receiver, sender: HttpxWebhookSender
) -> None:
    secret = new_signing_secret()
    response = await sender.send(webhook(receiver.url, secret))
    assert (response.status_code, response.accepted) == (200, True)
    (request,) = receiver.received
    assert request.body == BODY
    assert request.verified(secret) == {"type": "consent.changed", "data": {}}
    assert request.headers["Webhook-Id"] == "evt_7"


async def test_the_request_goes_to_the_checked_address_with_the_host_name_kept(
    receiver: Receiver, sender: HttpxWebhookSender
) -> None:
    # given a name no resolver knows: only the pinned address can reach the receiver
    port = receiver.server.port
    url = f"http://receiver.invalid:{port}/consent"
    # when
    response = await sender.send(webhook(url, new_signing_secret(), connect_to="127.0.0.1"))
    # then
    assert response.status_code == 200
    (request,) = receiver.received
    assert request.headers["Host"] == f"receiver.invalid:{port}"


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    receiver: Receiver, sender: HttpxWebhookSender
) -> None:
    receiver.answer_with(302)
    response = await sender.send(webhook(receiver.url, new_signing_secret()))
    assert (response.status_code, response.accepted) == (302, False)
    assert len(receiver.received) == 1


async def test_a_receiver_that_is_down_is_an_answer_not_an_exception(
    sender: HttpxWebhookSender,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/consent"
    response = await sender.send(webhook(url, new_signing_secret()))
    assert response.status_code is None
    assert response.error == "No answer from the receiver (ConnectError)."
    assert "127.0.0.1" not in (response.error or "")


def test_a_pinned_url_keeps_its_port_path_and_query_and_brackets_ipv6() -> None:
    assert pinned_url("https://hooks.acme.example/consent?a=1", "93.184.216.34") == (
        "https://93.184.216.34/consent?a=1",
        "hooks.acme.example",
    )
    assert pinned_url("https://hooks.acme.example:8443/c", "2606:2800:220:1::1") == (
        "https://[2606:2800:220:1::1]:8443/c",
        "hooks.acme.example:8443",
    )


async def test_the_system_resolver_answers_addresses_or_nothing() -> None:
    resolver = SystemResolver()
    assert "127.0.0.1" in await resolver.resolve("localhost")
    assert await resolver.resolve("nothing.invalid") == []

"""Adapters to the network outside: DNS resolution, and the HTTP client that POSTs webhooks
signed the Standard Webhooks way."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from domain.ports import OutgoingWebhook, WebhookResponse


class SystemResolver:
    """The operating system's resolver (getaddrinfo), off the event loop."""

    async def resolve(self, host: str) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HttpxWebhookSender:
    """POSTs each webhook with its three signature headers and reads only the status line.

    Where the domain checked the host's address just before (production), the request goes to
    that address with the host name kept for ``Host`` and for TLS (SNI and certificate check),
    so a second DNS answer cannot send it elsewhere. Redirects are not followed, proxies from
    the environment are not used, and no connection is kept between requests, so each one is
    made to the address just checked.
    """

    def __init__(
        self, timeout_seconds: float = 10.0, user_agent: str = "datarights-webhooks/1"
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"user-agent": user_agent},
        )

    async def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        signature = Webhook(webhook.secret).sign(
            webhook.message_id, webhook.timestamp, webhook.body
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook.message_id,
            "webhook-timestamp": str(int(webhook.timestamp.timestamp())),
            "webhook-signature": signature,
        }
        url, extensions = webhook.url, {}
        if webhook.connect_to is not None:
            url, host = pinned_url(webhook.url, webhook.connect_to)
            headers["host"] = host
            extensions["sni_hostname"] = urlsplit(webhook.url).hostname or ""
        started = time.monotonic()
        try:
            request = self._client.build_request(
                "POST", url, content=webhook.body.encode(), headers=headers, extensions=extensions
            )
            response = await self._client.send(request, stream=True)
            await response.aclose()  # the body is not needed, however large it is
        except httpx.TimeoutException:
            return WebhookResponse(None, "The receiver did not answer in time.", _ms(started))
        except httpx.HTTPError as error:
            # The class names the failure (ConnectError, RemoteProtocolError …); its text may
            # carry addresses, which stay out of the partner's log.
            return WebhookResponse(
                None, f"No answer from the receiver ({type(error).__name__}).", _ms(started)
            )
        return WebhookResponse(response.status_code, None, _ms(started))

    async def close(self) -> None:
        await self._client.aclose()


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """The URL with its host replaced by ``address``, and the original ``Host`` header value."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return parts._replace(netloc=netloc).geturl(), parts.netloc


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

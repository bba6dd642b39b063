"""DATARIGHTS_SMTP_URL: the three ways to reach a mail server, and what is refused."""

from __future__ import annotations

import pytest

from api.settings import Settings
from api.smtp import SmtpServer
from api.worker import mail_transport


def test_plain_smtp_defaults_to_port_25() -> None:
    assert SmtpServer.parse("smtp://mail.internal") == SmtpServer("mail.internal", 25, "plain")


def test_starttls_with_credentials_decodes_them() -> None:
    server = SmtpServer.parse("smtp+starttls://relay%40example.com:p%3Ass@smtp.example.com")
    assert (server.host, server.port, server.security) == ("smtp.example.com", 587, "starttls")
    assert (server.username, server.password) == ("relay@example.com", "p:ss")
    assert "p:ss" not in repr(server)


def test_implicit_tls_on_its_own_port() -> None:
    server = SmtpServer.parse("smtps://user:secret@smtp.example.com:2465")
    assert (server.port, server.security) == (2465, "tls")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://smtp.example.com", "must start with"),
        ("smtp://", "names no host"),
        ("smtp://smtp.example.com:99999", "invalid port"),
        ("smtp://user:secret@smtp.example.com", "credentials need"),
    ],
)
def test_unusable_addresses_are_refused_without_repeating_them(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as error:
        SmtpServer.parse(url)
    assert "secret" not in str(error.value)


def test_the_worker_refuses_an_unusable_address_before_it_starts() -> None:
    settings = Settings(smtp_url="smtp://user:secret@smtp.example.com")  # type: ignore[arg-type]
    assert "secret" not in repr(settings)
    with pytest.raises(SystemExit, match="credentials need") as stopped:
        mail_transport(settings)
    assert "secret" not in str(stopped.value)


def test_no_address_means_no_relay() -> None:
    assert mail_transport(Settings(smtp_url=None)) is None

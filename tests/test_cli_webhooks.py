"""`datarights partners webhook add|remove` and `datarights worker --once`, as an operator runs
them (the worker in a process of its own, as it is deployed)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import build_dependencies, close_dependencies, create_app
from api.cli import main
from domain.consent.model import SharingPurpose
from domain.partners import use_cases as partners
from domain.webhooks.use_cases import add_webhook
from persistence.card_vault import VaultKeyring
from persistence.migrate import upgrade
from tests.api.documents import SET_SHARING
from tests.api.helpers import register
from tests.api.webhook_receiver import receiving
from tests.conftest import settings_for
from tests.graphql import GraphQLClient
from tests.test_cli import datarights

SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$", re.MULTILINE)
PRODUCTION = {
    "DATARIGHTS_ENV": "production",
    "DATARIGHTS_CARD_VAULT_KEYS": VaultKeyring.generate("k1"),
    "DATARIGHTS_RATE_LIMITS_IN_MEMORY": "true",
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Command = Callable[..., Result]


@pytest.fixture
def command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Command:
    """``datarights`` run in this process (a fresh one costs seconds of imports), in an empty
    working directory, with only the settings given."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DATARIGHTS_")]:
        monkeypatch.delenv(name)

    def run(*args: str, **env: str) -> Result:
        with monkeypatch.context() as scoped:
            for name, value in env.items():
                scoped.setenv(name, value)
            capsys.readouterr()
            try:
                code = main(args)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 2
            out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def test_adding_a_webhook_prints_its_secret_once_and_keeps_it_sealed(
    command: Command, tmp_path: Path
) -> None:
    # given
    assert command("migrate").returncode == 0
    created = command("partners", "create", "--name", "Acme", "--purposes", "PARTNER_OFFERS")
    assert created.returncode == 0, created.stderr
    # when
    url = "http://127.0.0.1:9/consent"
    added = command("partners", "webhook", "add", "--name", "Acme", "--url", url)
    # then
    assert added.returncode == 0, added.stderr
    secret = SECRET.search(added.stdout)
    assert secret is not None, added.stdout
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("datarights.db*"))
    assert secret.group(0).encode() not in stored
    assert secret.group(0).removeprefix("whsec_").encode() not in stored
    twice = command("partners", "webhook", "add", "--name", "Acme", "--url", url)
    assert twice.returncode == 2
    assert "already has a webhook" in twice.stderr
    removed = command("partners", "webhook", "remove", "--name", "Acme", "--url", url)
    assert removed.returncode == 0, removed.stderr
    again = command("partners", "webhook", "remove", "--name", "Acme", "--url", url)
    assert again.returncode == 2
    assert "has no webhook" in again.stderr


def test_production_refuses_webhook_urls_that_reach_this_machine_or_a_private_network(
    command: Command,
) -> None:
    assert command("migrate", **PRODUCTION).returncode == 0
    purposes = ("--purposes", "PARTNER_OFFERS")
    created = command("partners", "create", "--name", "Acme", *purposes, **PRODUCTION)
    assert created.returncode == 0, created.stderr
    for url, reason in [
        ("http://127.0.0.1:8080/consent", "must use https"),
        ("http://10.0.0.1/consent", "must use https"),
        ("https://169.254.169.254/latest/meta-data", "not public"),
        ("https://localhost/consent", "not public"),
        ("https://[::1]/consent", "not public"),
    ]:
        refused = command(
            "partners", "webhook", "add", "--name", "Acme", "--url", url, **PRODUCTION
        )
        assert refused.returncode == 2, url
        assert reason in refused.stderr, refused.stderr
        assert "whsec_" not in refused.stdout


async def test_the_worker_delivers_what_is_due_and_exits(tmp_path: Path) -> None:
    # given a customer's change queued for a partner's webhook on loopback
    url = f"sqlite+aiosqlite:///{tmp_path / 'datarights.db'}"
    await upgrade(url)
    settings = settings_for(url)
    deps = build_dependencies(settings)
    with receiving() as receiver:
        try:
            await partners.create_partner(deps, "Acme", [SharingPurpose.PARTNER_OFFERS])
            hook = await add_webhook(deps, "Acme", receiver.url)
            app = create_app(settings, deps)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                client = GraphQLClient(http)
                token, _ = await register(client)
                choice = {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}
                await client.data(SET_SHARING, {"input": choice}, token=token)
        finally:
            await close_dependencies(deps)
        # when
        result = datarights("worker", "--once", cwd=tmp_path, DATARIGHTS_DATABASE_URL=url)
        # then
        assert result.returncode == 0, result.stderr
        assert "1 delivered, 0 to retry, 0 failed" in result.stdout
        (request,) = receiver.received
        assert request.verified(hook.secret)["data"]["purpose"] == "PARTNER_OFFERS"

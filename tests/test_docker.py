"""docker/compose.yaml and docker/Dockerfile name only commands the `datarights` CLI has, start
in the right order, and give the API replicas what running as replicas needs. No Docker engine
runs here: the files are read, and the commands parsed by the CLI's own parser."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from api.app import build_dependencies, close_dependencies, create_app
from api.cli import build_parser
from api.settings import Settings
from persistence.card_vault import VaultKeyring

DOCKER = Path(__file__).resolve().parents[1] / "docker"
IMAGE = "datarights:"
# In a container the API must listen beyond loopback for the proxy and the health check to reach.
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return loaded


def datarights_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if str(service.get("image", "")).startswith(IMAGE)
    }


def parsed(command: list[str]) -> Any:
    """The CLI's reading of a command; fails the test if the CLI has no such command."""
    assert command[0] == "datarights", command
    try:
        return build_parser().parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(command)}` is not a command the datarights CLI has")


def interpolated(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, from ``env``."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if operator == ":?":
            pytest.fail(f"{name} is required: {rest}")
        return rest or ""

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:[-?])([^}]*))?\}", substitute, value)


def example_env() -> dict[str, str]:
    """docker/env.example, its vault-key placeholder replaced by a real key."""
    env = {}
    for line in (DOCKER / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env["DATARIGHTS_CARD_VAULT_KEYS"] = VaultKeyring.generate("k1")
    return env


def test_every_service_of_the_image_runs_a_command_the_cli_has() -> None:
    services = datarights_services()
    assert {"migrate", "api-1", "api-2", "worker"} <= set(services)
    commands = {name: parsed(service["command"]).command for name, service in services.items()}
    assert commands == {
        "migrate": "migrate",
        "api-1": "serve",
        "api-2": "serve",
        "worker": "worker",
    }


def test_the_api_replicas_listen_on_every_interface_after_the_migration_with_redis() -> None:
    for name in ("api-1", "api-2"):
        service = datarights_services()[name]
        args = parsed(service["command"])
        assert (args.host, args.port) == (EVERY_INTERFACE, 8000)
        assert service["environment"]["DATARIGHTS_REDIS_URL"].startswith("redis://redis:")
        assert service["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert "api" in service["networks"]["default"]["aliases"]
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
    worker = services["worker"]["depends_on"]["migrate"]["condition"]
    assert worker == "service_completed_successfully"


def test_the_replicas_settings_from_the_env_file_pass_the_production_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the settings compose would pass, with env.example's placeholders
    env = example_env()
    service = datarights_services()["api-1"]
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, interpolated(str(value), env))
    # when
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    # then
    assert settings.production
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.database_url.startswith("postgresql+asyncpg://datarights:")
    assert settings.metrics_token is None or not settings.metrics_token.get_secret_value()


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def routes() -> set[str]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    deps = build_dependencies(settings)
    try:
        return {str(getattr(route, "path", "")) for route in create_app(settings, deps).routes}
    finally:
        asyncio.run(close_dependencies(deps))


def test_the_image_serves_as_a_non_root_user_and_checks_a_real_health_path() -> None:
    instructions = dockerfile_instructions()
    # multi-stage: a build stage and the runtime
    assert len([rest for keyword, rest in instructions if keyword == "FROM"]) >= 2
    [cmd] = [json.loads(rest) for keyword, rest in instructions if keyword == "CMD"]
    args = parsed(cmd)
    assert (args.command, args.host) == ("serve", EVERY_INTERFACE)
    [exposed] = [rest for keyword, rest in instructions if keyword == "EXPOSE"]
    assert int(exposed) == args.port
    [user] = [rest for keyword, rest in instructions if keyword == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    [health] = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    probe = json.loads(health[health.index("CMD") + len("CMD") :].strip())
    assert probe[:2] == ["python", "-c"]
    [url] = re.findall(r"https?://[^'\"]+", probe[2])
    assert urlsplit(url).port == args.port
    assert urlsplit(url).path in routes()

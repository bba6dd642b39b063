"""The ``datarights`` command: serve, migrate, export-schema, generate-vault-key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError

from api.settings import Settings

log = logging.getLogger("datarights")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        messages = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise SystemExit(f"datarights: {messages}") from None
    except SettingsError as error:
        raise SystemExit(f"datarights: {error}") from None


def _migrate(settings: Settings) -> None:
    from persistence.migrate import upgrade

    asyncio.run(upgrade(settings.database_url))


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from persistence.migrate import pending

    settings = _settings()
    if settings.production:
        if asyncio.run(pending(settings.database_url)):
            print(
                "datarights: the database schema is not up to date; run `datarights migrate` "
                "before starting the service.",
                file=sys.stderr,
            )
            return 2
    else:
        _migrate(settings)
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # the app reads X-Forwarded-For itself, from trusted proxies only
        server_header=False,
        log_level=settings.log_level.lower(),
    )
    return 0


def migrate(_args: argparse.Namespace) -> int:
    settings = _settings()
    _migrate(settings)
    print("datarights: the database is up to date.")
    return 0


def export_schema(_args: argparse.Namespace) -> int:
    from api.schema import schema

    print(schema.as_str())
    return 0


def consent_verify(_args: argparse.Namespace) -> int:
    """Re-derive every customer's choices from the ledger and compare with the stored state."""
    from api.app import build_dependencies, close_dependencies
    from domain.consent.use_cases import differences_from_ledger

    settings = _settings()

    async def run() -> list[str]:
        deps = build_dependencies(settings)
        try:
            return await differences_from_ledger(deps)
        finally:
            await close_dependencies(deps)

    differences = asyncio.run(run())
    for line in differences:
        print(line)
    if differences:
        print(f"datarights: {len(differences)} difference(s) between the ledger and the state.")
        return 1
    print("datarights: the stored consent state matches the ledger.")
    return 0


def generate_vault_key(args: argparse.Namespace) -> int:
    from persistence.card_vault import VaultKeyring

    print(VaultKeyring.generate(args.key_id))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datarights", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve GraphQL at /graphql (migrates in development)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(run=migrate)

    p = commands.add_parser("export-schema", help="print the GraphQL SDL")
    p.set_defaults(run=export_schema)

    p = commands.add_parser("consent", help="the consent ledger")
    consent_commands = p.add_subparsers(dest="consent_command", required=True)
    c = consent_commands.add_parser(
        "verify", help="rebuild the state from the ledger; exit 1 on any difference"
    )
    c.set_defaults(run=consent_verify)

    p = commands.add_parser("generate-vault-key", help="print a new card-vault key")
    p.add_argument("--key-id", default="k1")
    p.set_defaults(run=generate_vault_key)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())

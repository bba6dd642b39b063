"""The ``datarights`` command: serve, worker, migrate, export-schema, partners, consent,
generate-vault-key, requests, documents."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from api.cli_documents import add_document_commands
from api.cli_erasures import add_erasure_commands
from api.cli_requests import add_request_commands
from api.cli_staff import add_staff_commands
from api.cli_support import refused, settings_or_exit, with_dependencies
from api.settings import Settings
from domain.errors import DomainError

if TYPE_CHECKING:
    pass


log = logging.getLogger("datarights")

APP = "api.app:app_from_environment"


def _migrate(settings: Settings) -> None:
    from persistence.migrate import upgrade

    asyncio.run(upgrade(settings.database_url))


def serve(args: argparse.Namespace) -> int:
    import contextlib

    from api import serving
    from api.logs import configure_logging
    from api.metrics import multiprocess_directory
    from persistence.migrate import pending

    settings = settings_or_exit()
    configure_logging(settings)
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
    # Several workers add up their metrics in one directory, named before they start.
    shared_metrics = multiprocess_directory() if args.workers > 1 else contextlib.nullcontext()
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "proxy_headers": False,  # the app reads X-Forwarded-For itself, from trusted proxies
        "server_header": False,
        "log_level": settings.log_level.lower(),
        # Logging is ours (api/logs.py): uvicorn's lines go through it, and its access log,
        # which would print query strings, gives way to our access event (api/http_edge.py).
        "log_config": None,
        "access_log": False,
    }
    with shared_metrics:
        # With several workers, a socket for each: connections spread over them.
        return serving.run(APP, args.workers, **options)


def worker(args: argparse.Namespace) -> int:
    """Deliver webhooks and relay e-mail until stopped (or, with --once, what is due now)."""
    from api.logs import configure_logging
    from api.worker import work
    from persistence.migrate import pending

    settings = settings_or_exit()
    configure_logging(settings)
    if settings.production:
        if asyncio.run(pending(settings.database_url)):
            print(
                "datarights: the database schema is not up to date; run `datarights migrate` "
                "before starting a worker.",
                file=sys.stderr,
            )
            return 2
    else:
        _migrate(settings)
    poll = args.poll_interval if args.poll_interval is not None else settings.worker_poll_seconds
    total = asyncio.run(work(settings, once=args.once, poll_seconds=poll, batch=args.batch))
    if args.once:
        hooks, mail = total.webhooks, total.mail
        print(
            f"datarights: {hooks.delivered} delivered, {hooks.retrying} to retry, "
            f"{hooks.failed} failed; e-mail: {mail.sent} sent, {mail.retrying} to retry, "
            f"{mail.failed} failed."
        )
    return 0


def migrate(_args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    _migrate(settings)
    print("datarights: the database is up to date.")
    return 0


def export_schema(_args: argparse.Namespace) -> int:
    from api.schema import schema

    print(schema.as_str())
    return 0


def partners_create(args: argparse.Namespace) -> int:
    from domain.consent.model import SharingPurpose
    from domain.partners import use_cases

    try:
        purposes = [SharingPurpose(p.strip()) for p in args.purposes.split(",") if p.strip()]
    except ValueError as error:
        print(f"datarights: unknown purpose: {error}", file=sys.stderr)
        return 2
    try:
        issued = with_dependencies(lambda d: use_cases.create_partner(d, args.name, purposes))
    except DomainError as error:
        return refused(error)
    print(f"partner {issued.partner.name} ({issued.partner.id}) for {args.purposes}")
    print("API key (shown once, store it now):")
    print(issued.key)
    return 0


def partners_list(_args: argparse.Namespace) -> int:
    from domain.partners import use_cases

    for partner, keys in with_dependencies(use_cases.list_partners):
        state = "active" if partner.active else f"revoked {partner.revoked_at:%Y-%m-%d %H:%M}"
        purposes = ",".join(sorted(p.value for p in partner.purposes))
        print(f"{partner.name}\t{partner.id}\t{purposes}\t{state}")
        for key in keys:
            until = (
                "revoked"
                if key.revoked_at
                else (f"until {key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "current")
            )
            print(f"  key {key.hint} created {key.created_at:%Y-%m-%d %H:%M} {until}")
    return 0


def partners_rotate_key(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from domain.partners import use_cases

    grace = timedelta(hours=args.grace_hours)
    try:
        issued = with_dependencies(lambda d: use_cases.rotate_key(d, args.name, grace))
    except DomainError as error:
        return refused(error)
    print(f"new API key for {issued.partner.name}; the old ones work for {args.grace_hours} h:")
    print(issued.key)
    return 0


def partners_revoke(args: argparse.Namespace) -> int:
    from domain.partners import use_cases

    try:
        partner = with_dependencies(lambda d: use_cases.revoke_partner(d, args.name))
    except DomainError as error:
        return refused(error)
    print(f"partner {partner.name} and every key of it are revoked.")
    return 0


def partners_webhook_add(args: argparse.Namespace) -> int:
    from domain.webhooks import use_cases

    try:
        issued = with_dependencies(lambda d: use_cases.add_webhook(d, args.name, args.url))
    except DomainError as error:
        return refused(error)
    print(f"webhook for {issued.partner.name}: {issued.endpoint.url}")
    print("signing secret (shown once, store it now; verify signatures with it):")
    print(issued.secret)
    return 0


def partners_webhook_remove(args: argparse.Namespace) -> int:
    from domain.webhooks import use_cases

    try:
        abandoned, partner = with_dependencies(
            lambda d: use_cases.remove_webhook(d, args.name, args.url)
        )
    except DomainError as error:
        return refused(error)
    print(f"webhook {args.url} of {partner.name} removed; {abandoned} pending deliveries given up.")
    return 0


def purge(args: argparse.Namespace) -> int:
    """Retention: run daily (see docs/deployment.md); safe to run again."""
    from datetime import timedelta

    from domain.retention import purge as run_purge

    settings = settings_or_exit()
    days = args.days or settings.client_data_retention_days
    purged = with_dependencies(lambda d: run_purge(d, timedelta(days=days)))
    print(f"datarights: purged client data older than {days} days:")
    print(f"  sign-in IPs and user agents: {purged.sign_in_addresses}")
    print(f"  consent-change IPs and user agents: {purged.consent_change_addresses}")
    print(f"  expired sessions: {purged.expired_sessions}")
    print(f"  expired e-mailed tokens: {purged.expired_tokens}")
    print(f"  expired data exports: {purged.expired_exports}")
    return 0


def consent_verify(_args: argparse.Namespace) -> int:
    """Re-derive every customer's choices from the ledger and compare with the stored state."""
    from domain.consent.use_cases import differences_from_ledger

    differences = with_dependencies(differences_from_ledger)
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


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (docker/compose.yaml is checked against it)."""
    parser = argparse.ArgumentParser(prog="datarights", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve GraphQL at /graphql (migrates in development)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(run=serve)

    p = commands.add_parser(
        "worker", help="deliver webhooks, relay e-mail (several may run at once on PostgreSQL)"
    )
    p.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    p.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often to look for due deliveries (default: DATARIGHTS_WORKER_POLL_SECONDS)",
    )
    p.add_argument("--batch", type=int, default=20, help="deliveries claimed per turn")
    p.set_defaults(run=worker)

    p = commands.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(run=migrate)

    p = commands.add_parser("export-schema", help="print the GraphQL SDL")
    p.set_defaults(run=export_schema)

    p = commands.add_parser("partners", help="partner integrations and their API keys")
    partner_commands = p.add_subparsers(dest="partners_command", required=True)
    c = partner_commands.add_parser("create", help="register a partner; prints its API key once")
    c.add_argument("--name", required=True)
    c.add_argument(
        "--purposes",
        required=True,
        help="comma-separated: PARTNER_OFFERS, INTEGRATION_PARTNERS, ANALYTICS_COOKIES",
    )
    c.set_defaults(run=partners_create)
    c = partner_commands.add_parser("list", help="partners, their purposes and keys")
    c.set_defaults(run=partners_list)
    c = partner_commands.add_parser("rotate-key", help="issue a new key; old ones expire later")
    c.add_argument("--name", required=True)
    c.add_argument("--grace-hours", type=float, default=24.0)
    c.set_defaults(run=partners_rotate_key)
    c = partner_commands.add_parser("revoke", help="stop a partner and all its keys at once")
    c.add_argument("--name", required=True)
    c.set_defaults(run=partners_revoke)
    c = partner_commands.add_parser("webhook", help="where a partner receives consent changes")
    webhook_commands = c.add_subparsers(dest="webhook_command", required=True)
    w = webhook_commands.add_parser("add", help="register a URL; prints its signing secret once")
    w.add_argument("--name", required=True, help="the partner")
    w.add_argument("--url", required=True, help="https://… (http://127.0.0.1… in development)")
    w.set_defaults(run=partners_webhook_add)
    w = webhook_commands.add_parser("remove", help="stop sending to a URL")
    w.add_argument("--name", required=True, help="the partner")
    w.add_argument("--url", required=True)
    w.set_defaults(run=partners_webhook_remove)

    add_request_commands(commands)
    add_staff_commands(commands)
    add_document_commands(commands)
    add_erasure_commands(commands)

    p = commands.add_parser(
        "purge", help="retention: forget old client addresses, expired sessions and tokens"
    )
    p.add_argument("--days", type=int, help="override DATARIGHTS_CLIENT_DATA_RETENTION_DAYS")
    p.set_defaults(run=purge)

    p = commands.add_parser("consent", help="the consent ledger")
    consent_commands = p.add_subparsers(dest="consent_command", required=True)
    c = consent_commands.add_parser(
        "verify", help="rebuild the state from the ledger; exit 1 on any difference"
    )
    c.set_defaults(run=consent_verify)

    p = commands.add_parser("generate-vault-key", help="print a new card-vault key")
    p.add_argument("--key-id", default="k1")
    p.set_defaults(run=generate_vault_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command != "migrate":
        # Alembic's plug-in and context chatter says nothing to someone running another command.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())

"""The ``datarights`` command: serve, worker, migrate, export-schema, partners, consent,
generate-vault-key, requests."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from api.settings import Settings
from domain.errors import DomainError

if TYPE_CHECKING:
    from domain.dependencies import Dependencies
    from domain.requests.model import DataSubjectRequest

T = TypeVar("T")

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


def worker(args: argparse.Namespace) -> int:
    """Deliver the webhook outbox until stopped (or, with --once, what is due now)."""
    from api.worker import work
    from persistence.migrate import pending

    settings = _settings()
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
        print(
            f"datarights: {total.delivered} delivered, {total.retrying} to retry, "
            f"{total.failed} failed."
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


def _with_dependencies(work: Callable[[Dependencies], Awaitable[T]]) -> T:
    """Run one use case with the adapters the settings ask for, then release them."""
    from api.app import build_dependencies, close_dependencies

    settings = _settings()

    async def run() -> T:
        deps = build_dependencies(settings)
        try:
            return await work(deps)
        finally:
            await close_dependencies(deps)

    return asyncio.run(run())


def _refused(error: DomainError) -> int:
    for problem in error.problems:
        print(f"datarights: {problem.message}", file=sys.stderr)
    return 2


def partners_create(args: argparse.Namespace) -> int:
    from domain.consent.model import SharingPurpose
    from domain.partners import use_cases

    try:
        purposes = [SharingPurpose(p.strip()) for p in args.purposes.split(",") if p.strip()]
    except ValueError as error:
        print(f"datarights: unknown purpose: {error}", file=sys.stderr)
        return 2
    try:
        issued = _with_dependencies(lambda d: use_cases.create_partner(d, args.name, purposes))
    except DomainError as error:
        return _refused(error)
    print(f"partner {issued.partner.name} ({issued.partner.id}) for {args.purposes}")
    print("API key (shown once, store it now):")
    print(issued.key)
    return 0


def partners_list(_args: argparse.Namespace) -> int:
    from domain.partners import use_cases

    for partner, keys in _with_dependencies(use_cases.list_partners):
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
        issued = _with_dependencies(lambda d: use_cases.rotate_key(d, args.name, grace))
    except DomainError as error:
        return _refused(error)
    print(f"new API key for {issued.partner.name}; the old ones work for {args.grace_hours} h:")
    print(issued.key)
    return 0


def partners_revoke(args: argparse.Namespace) -> int:
    from domain.partners import use_cases

    try:
        partner = _with_dependencies(lambda d: use_cases.revoke_partner(d, args.name))
    except DomainError as error:
        return _refused(error)
    print(f"partner {partner.name} and every key of it are revoked.")
    return 0


def partners_webhook_add(args: argparse.Namespace) -> int:
    from domain.webhooks import use_cases

    try:
        issued = _with_dependencies(lambda d: use_cases.add_webhook(d, args.name, args.url))
    except DomainError as error:
        return _refused(error)
    print(f"webhook for {issued.partner.name}: {issued.endpoint.url}")
    print("signing secret (shown once, store it now; verify signatures with it):")
    print(issued.secret)
    return 0


def partners_webhook_remove(args: argparse.Namespace) -> int:
    from domain.webhooks import use_cases

    try:
        abandoned, partner = _with_dependencies(
            lambda d: use_cases.remove_webhook(d, args.name, args.url)
        )
    except DomainError as error:
        return _refused(error)
    print(f"webhook {args.url} of {partner.name} removed; {abandoned} pending deliveries given up.")
    return 0


def _when(text: str) -> datetime:
    """An ISO 8601 instant; without a zone it is read as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_request(request: DataSubjectRequest) -> None:
    due = f"due {request.due_at.isoformat()}" if request.due_at else "clock paused"
    print(f"request {request.id} {request.type.value} {request.status.value} ({due})")


def _request_command(work: Callable[[Dependencies], Awaitable[DataSubjectRequest]]) -> int:
    try:
        request = _with_dependencies(work)
    except DomainError as error:
        return _refused(error)
    _print_request(request)
    return 0


def requests_record(args: argparse.Namespace) -> int:
    from domain.requests import use_cases
    from domain.requests.model import RequestType

    return _request_command(
        lambda d: use_cases.record_email_request(
            d, args.customer_email, RequestType(args.type), _when(args.received_at), args.note
        )
    )


def requests_verify_identity(args: argparse.Namespace) -> int:
    from domain.requests import use_cases

    return _request_command(lambda d: use_cases.verify_identity(d, uuid.UUID(args.id), args.method))


def requests_extend(args: argparse.Namespace) -> int:
    from domain.requests import use_cases

    return _request_command(
        lambda d: use_cases.extend_request(
            d, uuid.UUID(args.id), _when(args.new_due_at), args.reason or ""
        )
    )


def requests_reject(args: argparse.Namespace) -> int:
    from domain.requests import use_cases

    return _request_command(
        lambda d: use_cases.reject_request(d, uuid.UUID(args.id), args.reason or "")
    )


def requests_complete(args: argparse.Namespace) -> int:
    from domain.requests import use_cases

    return _request_command(lambda d: use_cases.complete_request(d, uuid.UUID(args.id)))


def requests_cancel(args: argparse.Namespace) -> int:
    from domain.requests import use_cases

    return _request_command(lambda d: use_cases.cancel_request(d, uuid.UUID(args.id), args.reason))


def purge(args: argparse.Namespace) -> int:
    """Retention: run daily (see docs/deployment.md); safe to run again."""
    from datetime import timedelta

    from domain.retention import purge as run_purge

    settings = _settings()
    days = args.days or settings.client_data_retention_days
    purged = _with_dependencies(lambda d: run_purge(d, timedelta(days=days)))
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

    differences = _with_dependencies(differences_from_ledger)
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

    p = commands.add_parser(
        "worker", help="deliver webhooks (several may run at once on PostgreSQL)"
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

    from domain.requests.model import RequestType

    p = commands.add_parser("requests", help="data-subject requests (e.g. those sent by e-mail)")
    request_commands = p.add_subparsers(dest="requests_command", required=True)
    c = request_commands.add_parser("record", help="record a request that arrived by e-mail")
    c.add_argument("--customer-email", required=True)
    c.add_argument(
        "--type",
        required=True,
        choices=[t.value for t in RequestType],
    )
    c.add_argument("--received-at", required=True, help="ISO 8601; UTC when no zone is given")
    c.add_argument("--note")
    c.set_defaults(run=requests_record)
    c = request_commands.add_parser("verify-identity", help="the sender is the customer")
    c.add_argument("--id", required=True)
    c.add_argument("--method", required=True, help="how, e.g. 'reply from the account address'")
    c.set_defaults(run=requests_verify_identity)
    c = request_commands.add_parser("extend", help="extend once, by at most two months")
    c.add_argument("--id", required=True)
    c.add_argument("--new-due-at", required=True)
    c.add_argument("--reason")
    c.set_defaults(run=requests_extend)
    c = request_commands.add_parser("reject", help="refuse, with a reason")
    c.add_argument("--id", required=True)
    c.add_argument("--reason")
    c.set_defaults(run=requests_reject)
    c = request_commands.add_parser("complete", help="the request is done")
    c.add_argument("--id", required=True)
    c.set_defaults(run=requests_complete)
    c = request_commands.add_parser("cancel", help="the customer withdrew it")
    c.add_argument("--id", required=True)
    c.add_argument("--reason")
    c.set_defaults(run=requests_cancel)

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

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())

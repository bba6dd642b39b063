"""`datarights requests …`: operators handle data-subject requests that arrive by e-mail."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.cli_support import refused, with_dependencies
from domain.errors import DomainError

if TYPE_CHECKING:
    from domain.dependencies import Dependencies
    from domain.requests.model import DataSubjectRequest


def _when(text: str) -> datetime:
    """An ISO 8601 instant; without a zone it is read as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_request(request: DataSubjectRequest) -> None:
    due = f"due {request.due_at.isoformat()}" if request.due_at else "clock paused"
    print(f"request {request.id} {request.type.value} {request.status.value} ({due})")


def _request_command(work: Callable[[Dependencies], Awaitable[DataSubjectRequest]]) -> int:
    try:
        request = with_dependencies(work)
    except DomainError as error:
        return refused(error)
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


def add_request_commands(commands: Any) -> None:
    """Register the `requests` sub-commands on the top-level parser's sub-parsers."""
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

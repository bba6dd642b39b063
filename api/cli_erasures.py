"""`datarights erasures …`: the erasure log kept beside the backups, and re-applying it after a
restore (docs/operations.md, "Backups and restore").

The log is exported as JSON lines, one erasure a line:
``{"customer_id": "…", "erased_at": "2026-11-27T02:30:00+00:00", "request_id": "…" | null}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.cli_support import with_dependencies
from domain.ports import ErasureRecord

_FIELDS = {"customer_id", "erased_at", "request_id"}


class BadInput(ValueError):
    """Input to an `erasures` command that is refused before anything is written."""


def _instant(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadInput(f"{what} {text!r} is not an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(line: str) -> ErasureRecord:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        raise BadInput("not a JSON object") from None
    if not isinstance(value, dict):
        raise BadInput("not a JSON object")
    if unknown := sorted(set(value) - _FIELDS):
        raise BadInput(f"unknown field {unknown[0]!r}")
    if not {"customer_id", "erased_at"} <= set(value):
        raise BadInput("customer_id and erased_at are required")
    try:
        customer_id = uuid.UUID(str(value["customer_id"]))
        request = value.get("request_id")
        request_id = None if request is None else uuid.UUID(str(request))
    except ValueError:
        raise BadInput("customer_id and request_id must be UUIDs") from None
    if not isinstance(value["erased_at"], str):
        raise BadInput("erased_at must be an ISO 8601 string")
    return ErasureRecord(customer_id, _instant(value["erased_at"], "erased_at"), request_id)


def read_records(path: str) -> list[ErasureRecord]:
    """Every record of an exported log (``-`` for standard input); the first bad line refuses
    the whole file."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_record(line))
        except BadInput as error:
            raise BadInput(f"{path} line {number}: {error}") from None
    return records


def _line(record: ErasureRecord) -> str:
    return json.dumps(
        {
            "customer_id": str(record.customer_id),
            "erased_at": record.erased_at.isoformat(),
            "request_id": None if record.request_id is None else str(record.request_id),
        }
    )


def _since(args: argparse.Namespace) -> datetime | None:
    return None if args.since is None else _instant(args.since, "--since")


def erasures_export(args: argparse.Namespace) -> int:
    from domain.erasure import erasure_log

    try:
        since = _since(args)
    except BadInput as error:
        print(f"datarights: {error}", file=sys.stderr)
        return 2
    for record in with_dependencies(lambda d: erasure_log(d, since)):
        print(_line(record))
    return 0


def erasures_replay(args: argparse.Namespace) -> int:
    from domain.erasure import erasure_log, reapply_erasure

    try:
        since = _since(args)
        given = None if args.source is None else read_records(args.source)
    except BadInput as error:
        print(f"datarights: {error}", file=sys.stderr)
        return 2

    async def replay(deps: Any) -> tuple[int, int]:
        records = given if given is not None else await erasure_log(deps, None)
        due = [r for r in records if since is None or r.erased_at >= since]
        erased = 0
        for record in due:  # one transaction each: a failure keeps what was done before it
            erased += await reapply_erasure(deps, record)
        return erased, len(due)

    erased, total = with_dependencies(replay)
    print(f"datarights: {erased} customer(s) erased again; {total} erasure(s) in the log replayed.")
    return 0


def add_erasure_commands(commands: Any) -> None:
    """Register the `erasures` sub-commands on the top-level parser's sub-parsers."""
    p = commands.add_parser(
        "erasures", help="the erasure log: export it beside backups, replay it after a restore"
    )
    erasure_commands = p.add_subparsers(dest="erasures_command", required=True)
    c = erasure_commands.add_parser("export", help="print the erasure log as JSON lines")
    c.add_argument("--since", help="only erasures from this ISO 8601 time on (UTC if no zone)")
    c.set_defaults(run=erasures_export)
    c = erasure_commands.add_parser(
        "replay", help="erase again every logged customer a restored backup brought back"
    )
    c.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="an exported log (JSON lines, - for standard input); default: the database's log",
    )
    c.add_argument("--since", help="only erasures from this ISO 8601 time on (UTC if no zone)")
    c.set_defaults(run=erasures_replay)

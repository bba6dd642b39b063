"""`datarights documents …`: the trusted documents (persisted queries) clients may send by hash."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.cli_support import refused, settings_or_exit, with_dependencies
from domain.errors import DomainError


def documents_load(args: argparse.Namespace) -> int:
    """Check every entry of the manifest against the schema; store all of them, or none."""
    from api.documents.manifest import check_manifest
    from domain.documents import use_cases

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"datarights: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    checked = check_manifest(text, settings_or_exit())
    if checked.problems:
        for problem in checked.problems:
            print(f"datarights: {problem}", file=sys.stderr)
        print("datarights: nothing loaded", file=sys.stderr)
        return 2
    try:
        added = with_dependencies(lambda d: use_cases.trust_documents(d, checked.documents))
    except DomainError as error:
        return refused(error)
    kept = len(checked.documents) - added
    print(f"{added} trusted documents loaded, {kept} already trusted")
    return 0


def documents_list(args: argparse.Namespace) -> int:
    from domain.documents import use_cases

    for document in with_dependencies(use_cases.trusted_documents):
        name = document.operation_name or "-"
        print(f"sha256:{document.hash}  {document.loaded_at.isoformat()}  {name}")
    return 0


def add_document_commands(commands: Any) -> None:
    """Register the `documents` sub-commands on the top-level parser's sub-parsers."""
    p = commands.add_parser("documents", help="trusted documents (persisted queries)")
    document_commands = p.add_subparsers(dest="documents_command", required=True)
    c = document_commands.add_parser(
        "load",
        help="load a manifest (JSON: sha256 → document); any bad entry refuses all of it",
    )
    c.add_argument("file")
    c.set_defaults(run=documents_load)
    c = document_commands.add_parser("list", help="every trusted document: hash, when, name")
    c.set_defaults(run=documents_list)

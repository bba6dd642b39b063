"""`datarights staff …`: staff accounts, each with a role and a TOTP second factor."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from api.cli_support import refused, with_dependencies
from domain.errors import DomainError

PASSWORD_VARIABLE = "DATARIGHTS_STAFF_PASSWORD"


def _password() -> str:
    """From the environment (scripts) or typed twice at a prompt (people)."""
    if PASSWORD_VARIABLE in os.environ:
        return os.environ[PASSWORD_VARIABLE]
    if not sys.stdin.isatty():
        raise SystemExit(f"datarights: set {PASSWORD_VARIABLE} or run this in a terminal")
    first = getpass.getpass("Password for the staff account: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("datarights: the passwords differ")
    return first


def staff_create(args: argparse.Namespace) -> int:
    from domain.staff import use_cases
    from domain.staff.model import StaffRole

    password = _password()
    try:
        created = with_dependencies(
            lambda d: use_cases.create_staff(d, args.email, StaffRole(args.role), password)
        )
    except DomainError as error:
        return refused(error)
    member = created.member
    print(f"staff {member.email} {member.role.value} reference {member.reference}")
    print("Scan this into an authenticator app now; it is not shown again:")
    print(created.provisioning_uri)
    return 0


def staff_list(args: argparse.Namespace) -> int:
    from domain.staff import use_cases

    for member in with_dependencies(use_cases.list_staff):
        state = f"disabled {member.disabled_at.isoformat()}" if member.disabled_at else "active"
        print(f"{member.reference}  {member.role.value:<15}  {state:<10}  {member.email}")
    return 0


def staff_disable(args: argparse.Namespace) -> int:
    from domain.staff import use_cases

    try:
        member = with_dependencies(lambda d: use_cases.disable_staff(d, args.email))
    except DomainError as error:
        return refused(error)
    print(f"staff {member.email} disabled; their sessions have ended")
    return 0


def add_staff_commands(commands: Any) -> None:
    """Register the `staff` sub-commands on the top-level parser's sub-parsers."""
    p = commands.add_parser("staff", help="staff accounts (role, password and TOTP)")
    staff_commands = p.add_subparsers(dest="staff_command", required=True)
    c = staff_commands.add_parser(
        "create",
        help=f"create an account; the password comes from a prompt or {PASSWORD_VARIABLE}",
    )
    c.add_argument("--email", required=True)
    c.add_argument("--role", required=True, choices=["SUPPORT", "PRIVACY_OFFICER"])
    c.set_defaults(run=staff_create)
    c = staff_commands.add_parser("list", help="every staff account")
    c.set_defaults(run=staff_list)
    c = staff_commands.add_parser("disable", help="stop an account signing in; end its sessions")
    c.add_argument("--email", required=True)
    c.set_defaults(run=staff_disable)

"""Publishing a version of the privacy policy with its notice; customers acknowledging it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, Problem
from domain.identity.model import Session
from domain.mail.model import NoticeProgress
from domain.policies.model import Acknowledgement, PolicyVersion
from domain.policies.notice import (
    NOTICE_BUSINESS_DAYS,
    earliest_effective_date,
    gives_enough_notice,
    spelled_out,
)
from domain.ports import EmailMessage, UnitOfWork, VersionAlreadyPublished
from domain.requests.deadlines import WorkingCalendar

NOTICE_KIND = "POLICY_NOTICE"
MAX_VERSION_LENGTH = 40
MAX_SUMMARY_LENGTH = 2000
MAX_URL_LENGTH = 2000
# Customers written to per round trip when the notices are queued.
NOTICE_BATCH = 1000

_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# Control characters other than tab and line breaks, which a summary may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class PublishedPolicy:
    policy: PolicyVersion
    notices_queued: int


@dataclass(frozen=True, slots=True)
class PolicyNotices:
    version: str
    progress: NoticeProgress


async def publish_policy_version(
    deps: Dependencies,
    actor_staff_id: uuid.UUID | None,
    version: str,
    summary: str,
    url: str,
    effective_at: datetime,
) -> PublishedPolicy:
    """Announce a new version now, to take effect at ``effective_at`` (at least 30 business
    days away), and queue a notice of it to every customer, all in one transaction."""
    now = deps.clock.now()
    version, summary, url = version.strip(), summary.strip(), url.strip()
    problems = [
        *_version_problems(version),
        *_summary_problems(summary),
        *_url_problems(url),
        *_effective_problems(now, effective_at, deps.policy_calendar),
    ]
    async with deps.unit_of_work() as uow:
        version_ok = not any(p.field == ("version",) for p in problems)
        if version_ok and await uow.policies.get(version) is not None:
            problems.insert(0, _duplicate(version))
        if problems:
            raise DomainError(problems)
        policy = PolicyVersion(version, summary, url, now, effective_at, actor_staff_id)
        try:
            await uow.policies.add(policy)
        except VersionAlreadyPublished:
            # Published by someone else since we looked.
            raise DomainError([_duplicate(version)]) from None
        queued = await _queue_notices(uow, policy, deps.policy_calendar)
        await uow.commit()
    return PublishedPolicy(policy, queued)


async def current_policy(deps: Dependencies) -> PolicyVersion | None:
    """The version in force now, if any was ever published."""
    async with deps.unit_of_work() as uow:
        return await uow.policies.in_force(deps.clock.now())


async def upcoming_policy(deps: Dependencies) -> PolicyVersion | None:
    """The next version to take effect, while its notice period runs."""
    async with deps.unit_of_work() as uow:
        return await uow.policies.upcoming(deps.clock.now())


async def acknowledge_policy(deps: Dependencies, session: Session, version: str) -> Acknowledgement:
    """Record that the customer has read ``version`` (the current or a coming one); once:
    acknowledging it again returns the first acknowledgement."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        policy = await _published(uow, version)
        if policy is None:
            raise DomainError.single(
                ErrorCode.NOT_FOUND, "No policy version has this name.", "version"
            )
        if policy.in_force(now):
            current = await uow.policies.in_force(now)
            if current is not None and current.version != policy.version:
                raise DomainError.single(
                    ErrorCode.INVALID_STATE,
                    f"Version {policy.version} has been replaced by {current.version}; "
                    "acknowledge that one instead.",
                    "version",
                )
        acknowledgement = await uow.policies.acknowledge(
            Acknowledgement(session.customer_id, policy.version, now)
        )
        await uow.commit()
    return acknowledgement


async def acknowledgements_of(deps: Dependencies, customer_id: uuid.UUID) -> list[Acknowledgement]:
    """Every version the customer acknowledged, oldest first."""
    async with deps.unit_of_work() as uow:
        return await uow.policies.acknowledgements_of(customer_id)


async def policy_notices(deps: Dependencies, version: str) -> PolicyNotices | None:
    """How many notices of ``version`` were queued, sent and failed; None for no such version."""
    async with deps.unit_of_work() as uow:
        policy = await _published(uow, version)
        if policy is None:
            return None
        progress = await uow.mail_outbox.progress(NOTICE_KIND, policy.version)
    return PolicyNotices(policy.version, progress)


def notice_email(to: str, policy: PolicyVersion, calendar: WorkingCalendar) -> EmailMessage:
    """The notice every customer receives when a version is published."""
    takes_effect = spelled_out(calendar.local_date(policy.effective_at))
    return EmailMessage(
        kind=NOTICE_KIND,
        to=to,
        subject=f"Our privacy policy changes on {takes_effect}",
        body=(
            f"We are changing our privacy policy. The new version, {policy.version}, takes "
            f"effect on {takes_effect}.\n\n"
            f"What changes:\n{policy.summary}\n\n"
            f"Read it in full at {policy.url}\n\n"
            "You can review and acknowledge it in your privacy center, where you can also "
            "change your communication and sharing choices at any time."
        ),
        reference=policy.version,
    )


async def _queue_notices(uow: UnitOfWork, policy: PolicyVersion, calendar: WorkingCalendar) -> int:
    queued = 0
    after: uuid.UUID | None = None
    while True:
        page = await uow.customers.contacts(after, NOTICE_BATCH)
        if not page:
            return queued
        await uow.mailer.send_many(
            [(notice_email(email, policy, calendar), customer_id) for customer_id, email in page]
        )
        queued += len(page)
        after = page[-1][0]


async def _published(uow: UnitOfWork, version: str) -> PolicyVersion | None:
    """The published version of this name. A name no version could have (a NUL byte, which
    PostgreSQL refuses in a query, or 10,000 characters) is simply not one."""
    version = version.strip()
    if _version_problems(version):
        return None
    return await uow.policies.get(version)


def _duplicate(version: str) -> Problem:
    return Problem(
        ("version",), ErrorCode.DUPLICATE, f"Version {version} has already been published."
    )


def _version_problems(version: str) -> list[Problem]:
    where = ("version",)
    if not version:
        return [Problem(where, ErrorCode.REQUIRED, "Name the version, e.g. 2028-01.")]
    if len(version) > MAX_VERSION_LENGTH:
        return [
            Problem(
                where,
                ErrorCode.TOO_LONG,
                f"Keep the version name to {MAX_VERSION_LENGTH} characters.",
            )
        ]
    if not _VERSION.fullmatch(version):
        return [
            Problem(
                where,
                ErrorCode.INVALID,
                "Use letters, digits, dots, dashes and underscores only, starting and ending "
                "with a letter or digit (e.g. 2028-01 or v4.2).",
            )
        ]
    return []


def _summary_problems(summary: str) -> list[Problem]:
    where = ("summary",)
    if not summary:
        return [Problem(where, ErrorCode.REQUIRED, "Summarise what changes for customers.")]
    if len(summary) > MAX_SUMMARY_LENGTH:
        return [
            Problem(
                where,
                ErrorCode.TOO_LONG,
                f"Keep the summary to {MAX_SUMMARY_LENGTH} characters; link to the details.",
            )
        ]
    if _CONTROL.search(summary):
        return [Problem(where, ErrorCode.INVALID, "Use plain text in the summary.")]
    return []


def _url_problems(url: str) -> list[Problem]:
    where = ("url",)
    if not url:
        return [Problem(where, ErrorCode.REQUIRED, "Give the address of the full policy.")]
    if len(url) > MAX_URL_LENGTH:
        return [
            Problem(where, ErrorCode.TOO_LONG, f"Keep the address to {MAX_URL_LENGTH} characters.")
        ]
    invalid = Problem(
        where,
        ErrorCode.INVALID,
        "Give the full https:// address of the published policy, e.g. "
        "https://example.com/privacy/2028-01.",
    )
    if any(c.isspace() or not c.isprintable() for c in url):
        return [invalid]
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return [invalid]
    # No credentials in a link that goes to every customer.
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or not port_ok:
        return [invalid]
    return []


def _effective_problems(
    now: datetime, effective_at: datetime, calendar: WorkingCalendar
) -> list[Problem]:
    where = ("effective_at",)
    if effective_at.tzinfo is None or effective_at.utcoffset() is None:
        return [
            Problem(
                where,
                ErrorCode.INVALID,
                "Give the time with its time zone, e.g. 2028-01-10T00:00:00Z.",
            )
        ]
    if gives_enough_notice(now, effective_at, calendar):
        return []
    earliest = earliest_effective_date(now, calendar)
    holidays = calendar.country + (f"-{calendar.subdivision}" if calendar.subdivision else "")
    return [
        Problem(
            where,
            ErrorCode.NOTICE_TOO_SHORT,
            f"A policy change needs {NOTICE_BUSINESS_DAYS} business days' notice: announced "
            f"today, it can take effect on {spelled_out(earliest)} ({earliest.isoformat()}, "
            f"{calendar.timezone}) at the earliest. Weekends and {holidays} public holidays "
            "are not business days.",
        )
    ]

"""``datarights worker``: delivers the webhook outbox and relays the e-mail outbox to the SMTP
server of ``DATARIGHTS_SMTP_URL``. Run as many as wanted on PostgreSQL (they claim rows with
FOR UPDATE SKIP LOCKED and hold them by a lease); one on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta

from api.app import build_dependencies, close_dependencies
from api.network import HttpxWebhookSender
from api.settings import Settings
from api.smtp import SmtpServer, SmtpTransport
from domain.dependencies import Dependencies
from domain.mail.relay import RelayRun, relay_due
from domain.ports import WebhookSender
from domain.webhooks.delivery import DeliveryRun, deliver_due

log = logging.getLogger("datarights.worker")

# Room, beyond the sends themselves, to write the outcomes before the lease runs out.
LEASE_MARGIN = timedelta(seconds=60)
# Batches of e-mail per turn at most, so that a large mailing (a policy notice to every
# customer) does not hold webhooks back; the next turn follows at once while mail is left.
MAIL_BATCHES_PER_TURN = 10


@dataclass(frozen=True, slots=True)
class WorkerRun:
    """What turns did, webhooks and e-mail."""

    webhooks: DeliveryRun = field(default_factory=DeliveryRun)
    mail: RelayRun = field(default_factory=RelayRun)

    def __add__(self, other: WorkerRun) -> WorkerRun:
        return WorkerRun(self.webhooks + other.webhooks, self.mail + other.mail)


async def drain(
    deps: Dependencies, sender: WebhookSender, *, batch: int, lease: timedelta
) -> DeliveryRun:
    """Turn after turn until a turn finds less than a full batch due; the totals."""
    total = DeliveryRun()
    while True:
        run = await deliver_due(deps, sender, batch=batch, lease=lease)
        total += run
        if run.claimed < batch:
            return total


async def relay(
    deps: Dependencies,
    transport: SmtpTransport,
    *,
    batch: int,
    lease: timedelta,
    batches: int = MAIL_BATCHES_PER_TURN,
) -> tuple[RelayRun, bool]:
    """Up to ``batches`` batches of due e-mail; the totals, and whether more may be due. The
    SMTP connection is closed at the end rather than held idle until the next turn."""
    total = RelayRun()
    try:
        for _ in range(batches):
            run = await relay_due(deps, transport, batch=batch, lease=lease)
            total += run
            if run.claimed < batch or run.unreachable:
                return total, False
        return total, True
    finally:
        await transport.close()


def mail_transport(settings: Settings) -> SmtpTransport | None:
    """The SMTP transport the settings ask for; None when no server is configured. An unusable
    DATARIGHTS_SMTP_URL stops the worker before it starts, with a message that repeats no
    part of it (it may hold a password)."""
    if settings.smtp_url is None or not settings.smtp_url.get_secret_value().strip():
        return None
    try:
        server = SmtpServer.parse(settings.smtp_url.get_secret_value())
    except ValueError as error:
        raise SystemExit(f"datarights: {error}") from None
    return SmtpTransport(server, settings.mail_from, settings.smtp_timeout_seconds)


async def work(settings: Settings, *, once: bool, poll_seconds: float, batch: int) -> WorkerRun:
    """Deliver what is due; with ``once`` stop when nothing more is, else poll until SIGTERM
    or SIGINT (a turn under way is finished first)."""
    transport = mail_transport(settings)
    deps = build_dependencies(settings)
    sender = HttpxWebhookSender(settings.webhook_timeout_seconds)
    lease = timedelta(seconds=batch * (settings.webhook_timeout_seconds + 5)) + LEASE_MARGIN
    mail_lease = timedelta(seconds=batch * (settings.smtp_timeout_seconds + 5)) + LEASE_MARGIN
    if transport is None:
        log.warning(
            "DATARIGHTS_SMTP_URL is not set: e-mail stays in the outbox table (development)"
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    total = WorkerRun()
    try:
        while not stopping.is_set():
            try:
                run = await drain(deps, sender, batch=batch, lease=lease)
            except Exception:
                # A fault of ours or of the database: leases make it safe to try again later.
                log.exception("webhook delivery turn failed")
                if once:
                    raise
                run = DeliveryRun()
            if run.claimed:
                log.info(
                    "webhooks: %d delivered, %d to retry, %d failed, %d left to another worker",
                    run.delivered,
                    run.retrying,
                    run.failed,
                    run.expired,
                )
            mail, more_mail = await _mail_turn(deps, transport, batch, mail_lease, once)
            total += WorkerRun(run, mail)
            if more_mail:
                continue
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), poll_seconds)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        await sender.close()
        await close_dependencies(deps)
    return total


async def _mail_turn(
    deps: Dependencies,
    transport: SmtpTransport | None,
    batch: int,
    lease: timedelta,
    once: bool,
) -> tuple[RelayRun, bool]:
    if transport is None:
        return RelayRun(), False
    try:
        run, more = await relay(deps, transport, batch=batch, lease=lease)
    except Exception:
        log.exception("mail relay turn failed")
        if once:
            raise
        return RelayRun(), False
    if run.claimed:
        log.info(
            "e-mail: %d sent, %d to retry, %d failed, %d left to another worker",
            run.sent,
            run.retrying,
            run.failed,
            run.expired,
        )
    if run.unreachable:
        log.warning("e-mail: the SMTP server cannot be reached; %d left for later", run.released)
    return run, more

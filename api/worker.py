"""``datarights worker``: delivers the webhook outbox. Run as many as wanted on PostgreSQL
(they claim rows with FOR UPDATE SKIP LOCKED and hold them by a lease); one on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from api.app import build_dependencies, close_dependencies
from api.network import HttpxWebhookSender
from api.settings import Settings
from domain.dependencies import Dependencies
from domain.ports import WebhookSender
from domain.webhooks.delivery import DeliveryRun, deliver_due

log = logging.getLogger("datarights.worker")

# Room, beyond the sends themselves, to write the outcomes before the lease runs out.
LEASE_MARGIN = timedelta(seconds=60)


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


async def work(settings: Settings, *, once: bool, poll_seconds: float, batch: int) -> DeliveryRun:
    """Deliver what is due; with ``once`` stop when nothing more is, else poll until SIGTERM
    or SIGINT (a turn under way is finished first)."""
    deps = build_dependencies(settings)
    sender = HttpxWebhookSender(settings.webhook_timeout_seconds)
    lease = timedelta(seconds=batch * (settings.webhook_timeout_seconds + 5)) + LEASE_MARGIN
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    total = DeliveryRun()
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
            total += run
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

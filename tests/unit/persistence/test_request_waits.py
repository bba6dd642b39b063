"""A request waits a pool's timeout once; outside a request every wait is a wait of its own."""

from __future__ import annotations

import asyncio

from persistence.database import (
    mark_waited_out,
    request_waits,
    request_waits_end,
    waited_out,
)


def test_a_wait_that_ran_out_marks_only_its_request() -> None:
    token = request_waits()
    try:
        assert not waited_out()
        mark_waited_out()
        assert waited_out()
    finally:
        request_waits_end(token)
    # the next request starts unmarked
    token = request_waits()
    try:
        assert not waited_out()
    finally:
        request_waits_end(token)


def test_outside_a_request_nothing_is_marked() -> None:
    # the worker's loops run outside any request: one timeout must not refuse their next waits
    mark_waited_out()
    assert not waited_out()


async def test_requests_served_together_are_marked_apart() -> None:
    async def request(runs_out: bool, marked: asyncio.Event, other_marked: asyncio.Event) -> bool:
        token = request_waits()
        try:
            if runs_out:
                mark_waited_out()
                marked.set()
            else:
                await other_marked.wait()
            return waited_out()
        finally:
            request_waits_end(token)

    first, second = asyncio.Event(), asyncio.Event()
    marked, unmarked = await asyncio.gather(
        request(True, first, second), request(False, second, first)
    )
    assert (marked, unmarked) == (True, False)

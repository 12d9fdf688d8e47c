"""Waiting for what happens asynchronously (the stack, a journal's flusher): one polling loop for every test."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable


async def until(probe: Callable[[], Any], timeout_s: float = 10, interval_s: float = 0.1) -> Any:
    """The probe's first truthy answer, or its last one at the timeout; a probe may be a coroutine function, and
    the event loop it runs on keeps serving while it waits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(interval_s)


def eventually(probe: Callable[[], Any], timeout_s: float = 20, interval_s: float = 0.2) -> Any:
    """`until`, for a plain probe called from code that runs no event loop."""
    return asyncio.run(until(probe, timeout_s, interval_s))

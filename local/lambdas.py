"""Plays Lambda: calls a handler by its "module:function" name with an event and a context.

Handlers are synchronous, as in Lambda; they run on a thread pool so that the gateways'
event loop keeps serving while they wait on DynamoDB.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from local.invocations import LambdaContext
from services.shared import refs


class Abandoned(Exception):
    """An invocation skipped because its caller went away before it started."""


class Runtime:
    def __init__(self, workers: int = 32, background_workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        self._background = ThreadPoolExecutor(max_workers=background_workers, thread_name_prefix="lambda-background")

    def invoke(self, ref: str, event: dict[str, Any]) -> Any:
        return refs.resolve(ref)(event, LambdaContext(ref))

    async def invoke_async(self, ref: str, event: dict[str, Any], wanted: Callable[[], bool] = lambda: True, *,
                           background: bool = False) -> Any:
        """Runs the handler on the pool unless, when its turn comes, `wanted()` says its caller is gone (a
        charger that gave up its handshake): under a reconnect storm, work nobody waits for would delay
        everyone else's past their own timeouts. For the same reason, `background` work, which no client
        waits on (`$disconnect`, run after the socket is gone), has a small pool of its own: the thousand
        `$disconnect`s of a storm queue there, not ahead of the handshakes that follow."""
        def call() -> Any:
            if not wanted():
                raise Abandoned(ref)
            return self.invoke(ref, event)

        pool = self._background if background else self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._background.shutdown(wait=True)

"""Plays Lambda: calls a handler by its "module:function" name with an event and a context.

Handlers are synchronous, as in Lambda; they run on thread pools so that the gateways'
event loop keeps serving while they wait on DynamoDB. In AWS each function scales on its own;
here the pools are shared, so work of different kinds gets pools of its own (`Pool`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Literal

from local.invocations import LambdaContext
from services.shared import refs


class Abandoned(Exception):
    """An invocation skipped because its caller went away before it started."""


# main: what clients wait on (frames, $connect, REST, queues); background: what nobody waits on ($disconnect);
# authorizer: the $connect authorizer, whose password hashing (scrypt, 16 MB and tens of ms of a core each)
# must not hold up the frames of connected chargers, nor run on 32 threads at once.
Pool = Literal["main", "background", "authorizer"]


# Four: one thread (half of this 2-core box) made a reconnect storm of 1,000 chargers wait on the authorizer's
# reads (183 s to all back, 3,066 refused handshakes; 78 s and 22 with four), and the authorizer's own throttle
# (docs/ocpp.md, Wrong passwords) keeps a burst of wrong passwords from hashing on all four for long.
AUTHORIZER_WORKERS = 4


class Runtime:
    def __init__(self, workers: int = 32, background_workers: int = 4, authorizer_workers: int | None = None) -> None:
        self.workers = workers
        self.authorizer_workers = authorizer_workers or AUTHORIZER_WORKERS
        self._pools: dict[Pool, ThreadPoolExecutor] = {
            "main": ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda"),
            "background": ThreadPoolExecutor(max_workers=background_workers, thread_name_prefix="lambda-background"),
            "authorizer": ThreadPoolExecutor(max_workers=self.authorizer_workers, thread_name_prefix="lambda-authorizer"),
        }

    def invoke(self, ref: str, event: dict[str, Any]) -> Any:
        return refs.resolve(ref)(event, LambdaContext(ref))

    async def invoke_async(self, ref: str, event: dict[str, Any], wanted: Callable[[], bool] = lambda: True, *,
                           pool: Pool = "main") -> Any:
        """Runs the handler on `pool` unless, when its turn comes, `wanted()` says its caller is gone (a
        charger that gave up its handshake): under a reconnect storm, work nobody waits for would delay
        everyone else's past their own timeouts. For the same reason, background work, which no client
        waits on (`$disconnect`, run after the socket is gone), has a small pool of its own: the thousand
        `$disconnect`s of a storm queue there, not ahead of the handshakes that follow."""
        def call() -> Any:
            if not wanted():
                raise Abandoned(ref)
            return self.invoke(ref, event)

        return await asyncio.get_running_loop().run_in_executor(self._pools[pool], call)

    def close(self) -> None:
        for executor in self._pools.values():
            executor.shutdown(wait=True)

"""Plays EventBridge Scheduler: invokes each manifest schedule's handler at its rate (moto never fires them).

Each schedule also runs once at start: a stopped stack missed its runs (after a kill, the
connection audit is what marks offline the chargers the journal still shows connected).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterable

from local import ACCOUNT, REGION
from local.invocations import eventbridge_event
from local.lambdas import Runtime
from services.shared import clock
from services.shared.manifest import Schedule

log = logging.getLogger("csms.scheduler")


class Scheduler:
    def __init__(self, schedules: Iterable[Schedule], runtime: Runtime, every_s: dict[str, float] | None = None) -> None:
        """`every_s`: seconds between runs of the schedules named, instead of their rate (tests sweep faster)."""
        self.schedules = tuple(schedules)
        self.every_s = every_s or {}
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def fire(self, schedule: Schedule) -> None:
        event = eventbridge_event("aws.scheduler", "Scheduled Event", {}, at=clock.now(),
                                  resources=[f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{schedule.name}"])
        try:
            self.runtime.invoke(schedule.handler, event)
        except Exception:
            log.exception("schedule %s failed", schedule.name)

    def _run(self) -> None:
        due = {s.name: time.monotonic() for s in self.schedules}
        while self.schedules and not self._stop.is_set():
            name = min(due, key=due.__getitem__)
            if self._stop.wait(max(0.0, due[name] - time.monotonic())):
                return
            schedule = next(s for s in self.schedules if s.name == name)
            self.fire(schedule)
            due[name] = time.monotonic() + self.every_s.get(name, schedule.rate_minutes * 60)

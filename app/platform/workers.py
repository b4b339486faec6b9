"""The one supervised loop every worker runs (`flask payouts work`, `webhooks work`, `codes work`,
`consumers persist-scans`, the daily jobs, the embedded default's payout thread).

A worker is a step run over and over: the step does one batch and says whether more is waiting. The loop

- removes the session after every step, so a worker holds no connection (nor snapshot) between steps;
- on an outage of the database or Redis (app.faults) logs one line, rolls back, waits (1 s, 2 s, 4 s ...
  up to WORKER_MAX_BACKOFF_SECONDS) and tries again, and says so when the server is back; any other
  error is logged with its traceback and waited out the same way (a daemon that died would stay dead);
- stops between two steps on SIGTERM or SIGINT (a step under way finishes: nothing is cut in half);
- writes its liveness file `<WORKER_HEARTBEAT_DIR>/<name>` (app.platform.heartbeat) at least every
  WORKER_HEARTBEAT_SECONDS,
  also while it waits out an outage (it is alive; restarting it would not bring the database back). A
  health check reads the file's age (docs/failure-modes.md).

Run once (`--once`, the daily jobs), the loop runs the step until nothing more is waiting, still waiting
out outages, and lets any other error through so the job fails loudly.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from app import faults
from app.extensions import db
from app.platform import heartbeat

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0


def heartbeat_path(name: str) -> Path:
    """Where the worker `name` writes its liveness file (app.platform.heartbeat reads it)."""
    return heartbeat.path(name, folder=Path(current_app.config["WORKER_HEARTBEAT_DIR"]))


class _Heartbeat:
    def __init__(self, name: str):
        self.name, self.folder = name, Path(current_app.config["WORKER_HEARTBEAT_DIR"])
        self.every = current_app.config.get("WORKER_HEARTBEAT_SECONDS", 10)
        self.last = 0.0

    def beat(self) -> None:
        if time.monotonic() - self.last < min(1.0, self.every):
            return
        heartbeat.beat(self.name, folder=self.folder, force=True)
        self.last = time.monotonic()


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Set `stop` on SIGTERM/SIGINT (main thread only); returns what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(number, _frame):
        log.info("worker: %s received; stopping after this step", signal.Signals(number).name)
        stop.set()

    previous = {number: signal.signal(number, handle) for number in (signal.SIGTERM, signal.SIGINT)}
    return lambda: [signal.signal(number, handler) for number, handler in previous.items()]


def run(step: Callable[[], bool], *, name: str, idle_seconds: float, once: bool = False,
        stop: threading.Event | None = None, max_backoff: float | None = None,
        first_backoff: float = FIRST_BACKOFF_SECONDS) -> int:
    """Run `step` (True: more is waiting, run again at once) until stopped; the steps that succeeded."""
    stop = stop or threading.Event()
    max_backoff = max_backoff if max_backoff is not None else current_app.config.get("WORKER_MAX_BACKOFF_SECONDS", 30)
    alive = _Heartbeat(name)
    restore = _on_signals(stop)
    failures, done = 0, 0

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            alive.beat()
            stop.wait(min(left, alive.every))

    try:
        while not stop.is_set():
            alive.beat()
            try:
                more = step()
            except Exception as error:  # noqa: BLE001 - the loop outlives what a step meets
                _roll_back()
                outage = faults.is_outage(error)
                if once and not outage:
                    raise
                failures += 1
                pause = min(max_backoff, first_backoff * 2 ** min(failures - 1, 16))
                if outage:
                    log.warning("%s: the database or Redis is unavailable (%s: %s); try %d again in %.1f s", name,
                                type(error).__name__, _first_line(error), failures + 1, pause)
                else:
                    log.exception("%s: a step failed; try %d again in %.1f s", name, failures + 1, pause)
                wait(pause)
                continue
            finally:
                db.session.remove()
            if failures:
                log.info("%s: working again after %d failed tries", name, failures)
                failures = 0
            done += 1
            if not more:
                if once:
                    break
                wait(idle_seconds)
    finally:
        restore()
    return done


def _roll_back() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone too; remove() drops it
        log.debug("rollback after a failed step failed too", exc_info=True)


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0][:200] if text else ""

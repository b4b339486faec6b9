"""Races for the MariaDB tests: calls run at once, each in its own thread and app context."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.db import retried_transaction, retrying
from app.extensions import db
from app.units import code_reader


def at_once(app, *calls: Callable, each_in_transaction: bool = False) -> list:
    """Start every call together, each in its own thread and app context (and transaction, if asked);
    what each returned or raised, by position.

    Each call runs again when the database rolled it back (app.db.retrying), as a request or a worker's use
    case would: on a Galera cluster (tests/galera.py) two racers on two nodes meet only at COMMIT, where the
    loser is rolled back rather than made to wait for the winner's lock."""
    start = threading.Barrier(len(calls), timeout=10)
    outcomes: list = [None] * len(calls)

    def run(i):
        with app.app_context():
            try:
                start.wait()
                outcomes[i] = retried_transaction(calls[i]) if each_in_transaction else retrying(calls[i])
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                outcomes[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def results_and_errors(outcomes: list) -> tuple[list, list]:
    """What each returned and what each raised, by position (None where it did the other)."""
    errors = [outcome if isinstance(outcome, Exception) else None for outcome in outcomes]
    return [None if error else outcome for outcome, error in zip(outcomes, errors)], errors


def once_per_thread(wait: Callable[[], object]) -> Callable[[], None]:
    """``wait()`` the first time each thread calls it; a use case run again after a rollback goes straight on
    (its racer may be done and would never come to a second meeting)."""
    met = threading.local()

    def first_time() -> None:
        if not getattr(met, "done", False):
            met.done = True
            wait()
    return first_time


@contextmanager
def meeting_in(module, name: str, parties: int = 2) -> Iterator[None]:
    """Make module.name wait until `parties` threads have called it, so they take its locks together (once:
    a call run again after a rollback goes straight on)."""
    meet = once_per_thread(threading.Barrier(parties, timeout=10).wait)
    original = getattr(module, name)

    def when_all_are_ready(*args, **kwargs):
        meet()
        return original(*args, **kwargs)

    setattr(module, name, when_all_are_ready)
    try:
        yield
    finally:
        setattr(module, name, original)


def race_reading_batches(app, monkeypatch, calls) -> tuple[list, list]:
    """Each call in its own thread and transaction; all read their codes' batches together, then go for
    the units' locks (an unpack locks in several steps: a meeting at each would hold up the winner)."""
    meet, covering = once_per_thread(threading.Barrier(len(calls), timeout=10).wait), code_reader.BatchIndex.covering

    def together(serials):
        meet()
        return covering(serials)

    monkeypatch.setattr(code_reader.BatchIndex, "covering", together)  # undone as the classmethod it was
    return results_and_errors(at_once(app, *calls, each_in_transaction=True))

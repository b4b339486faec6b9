"""Races for the MariaDB tests: calls run at once, each in its own thread and app context."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.db import transaction
from app.extensions import db
from app.units import code_reader


def at_once(app, *calls: Callable, each_in_transaction: bool = False) -> list:
    """Start every call together, each in its own thread and app context (and transaction, if asked);
    what each returned or raised, by position."""
    start = threading.Barrier(len(calls), timeout=10)
    outcomes: list = [None] * len(calls)

    def run(i):
        with app.app_context():
            try:
                start.wait()
                if each_in_transaction:
                    with transaction():
                        outcomes[i] = calls[i]()
                else:
                    outcomes[i] = calls[i]()
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


@contextmanager
def meeting_in(module, name: str, parties: int = 2) -> Iterator[None]:
    """Make module.name wait until `parties` threads have called it, so they take its locks together."""
    ready = threading.Barrier(parties, timeout=10)
    original = getattr(module, name)

    def when_all_are_ready(*args, **kwargs):
        ready.wait()
        return original(*args, **kwargs)

    setattr(module, name, when_all_are_ready)
    try:
        yield
    finally:
        setattr(module, name, original)


def race_reading_batches(app, monkeypatch, calls) -> tuple[list, list]:
    """Each call in its own thread and transaction; all read their codes' batches together, then go for
    the units' locks (an unpack locks in several steps: a meeting at each would hold up the winner)."""
    ready, covering = threading.Barrier(len(calls), timeout=10), code_reader.BatchIndex.covering

    def together(serials):
        ready.wait()
        return covering(serials)

    monkeypatch.setattr(code_reader.BatchIndex, "covering", together)  # undone as the classmethod it was
    return results_and_errors(at_once(app, *calls, each_in_transaction=True))

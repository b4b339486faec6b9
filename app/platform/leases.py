"""Row leases: how a worker takes a row for itself, writes under its claim only, and gives it back.

Every worker runs on the one loop (app.platform.workers: backoff on an outage, stop signal, liveness);
what it leases is one of two kinds of row.

- **Due rows** (payouts, webhook deliveries): a row is due once its ``next_attempt_at`` has come.
  ``take`` claims one with a guarded UPDATE, in a transaction of its own, that moves ``next_attempt_at``
  past a lease: of two workers only one wins, and a worker that dies mid-work delays the row by the lease
  only. The work runs outside any transaction; its outcome is written by the winner (``held`` names the
  row while its lease stands).
- **Jobs** (code packs, data exports): a queued job is taken by counting an attempt (``Jobs.claim``); the
  runner writes under its attempt only (``Jobs.update`` and ``Jobs.finish``), its ``heartbeat_at`` moving
  as it goes, and a job whose heartbeat stopped (its worker died) is queued again
  (``Jobs.requeue_stale``); a runner presumed dead that wakes up can no longer write to it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import sqlalchemy as sa
from flask import current_app

from app.db import transaction, utcnow
from app.extensions import db
from app.platform import heartbeat


def take(model, row_id: int, *, now: datetime, seconds: int, where=(), **values) -> datetime | None:
    """Claim the due row ``row_id`` for ``seconds`` (one guarded UPDATE, committed; ``where`` narrows it,
    ``values`` are set with it); the lease's end, or None when another worker has it or it is not due."""
    lease = now + timedelta(seconds=seconds)
    with transaction():
        claimed = db.session.execute(sa.update(model).where(
            model.id == row_id, *where, model.next_attempt_at <= now).values(next_attempt_at=lease, **values)).rowcount
    return lease if claimed == 1 else None


def held(model, row_id: int, lease: datetime) -> tuple:
    """The conditions that find the row while ``lease`` stands (no other worker has taken it since)."""
    return model.id == row_id, model.next_attempt_at == lease


@dataclass(frozen=True)
class Jobs:
    """The job rows of one worker: ``model`` has status, attempt, started_at, heartbeat_at, finished_at
    and rows_done; ``worker`` names its liveness heartbeat (app.platform.heartbeat)."""

    model: type
    queued: Enum
    running: Enum
    worker: str

    def claim(self, job_id: int, **values) -> int | None:
        """Take a queued job (atomically: only one runner wins); its attempt number, or None; commits."""
        model = self.model
        with transaction():
            now = utcnow()
            claimed = db.session.execute(
                sa.update(model).where(model.id == job_id, model.status == self.queued)
                .values(status=self.running, started_at=now, heartbeat_at=now, attempt=model.attempt + 1, **values)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not claimed:
                return None
            return db.session.scalar(sa.select(model.attempt).where(model.id == job_id))

    def queued_ids(self) -> list[int]:
        """The queued jobs, oldest first, read without staying in a transaction (a runner works long)."""
        ids = db.session.scalars(sa.select(self.model.id).where(self.model.status == self.queued)
                                 .order_by(self.model.id)).all()
        db.session.rollback()
        return ids

    def _mine(self, job_id: int, attempt: int):
        model = self.model
        return sa.update(model).where(model.id == job_id, model.attempt == attempt, model.status == self.running)

    def update(self, job_id: int, attempt: int, **values) -> None:
        """Write progress under the runner's attempt, and beat: a long job is its worker at work."""
        heartbeat.beat(self.worker)  # the process's liveness, not only the job's
        with transaction():
            db.session.execute(self._mine(job_id, attempt).values(heartbeat_at=utcnow(), **values)
                               .execution_options(synchronize_session=False))

    def finish(self, job_id: int, attempt: int, **values) -> None:
        """End the job under the runner's attempt (a runner that lost it writes nothing)."""
        with transaction():
            db.session.execute(self._mine(job_id, attempt).values(finished_at=utcnow(), **values)
                               .execution_options(synchronize_session=False))
        db.session.expire_all()

    def stale(self, stale_after: timedelta):
        """The running jobs whose runner stopped beating ``stale_after`` ago (a crashed worker)."""
        return sa.and_(self.model.status == self.running, self.model.heartbeat_at < utcnow() - stale_after)

    def requeue_stale(self, stale_after: timedelta, *where) -> int:
        """Queue the stale jobs (``where`` narrows them) again from the start, in the caller's transaction."""
        return db.session.execute(
            sa.update(self.model).where(self.stale(stale_after), *where)
            .values(status=self.queued, rows_done=0, started_at=None, heartbeat_at=None)
            .execution_options(synchronize_session=False)).rowcount


def dispatch(run: Callable[[], object], *, setting: str, thread_name: str) -> None:
    """Run a committed job the way the setting says: ``inline`` now, in a ``thread`` of this process, or
    leave it to its ``worker`` process."""
    runner = current_app.config[setting]
    if runner == "inline":
        run()
    elif runner == "thread":
        app = current_app._get_current_object()
        threading.Thread(target=_in_thread, args=(app, run), name=thread_name, daemon=True).start()
    elif runner != "worker":
        raise RuntimeError(f"{setting} must be inline, thread or worker, not {runner!r}")


def _in_thread(app, run: Callable[[], object]) -> None:
    with app.app_context():
        try:
            run()
        finally:
            db.session.remove()

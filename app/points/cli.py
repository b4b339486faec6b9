"""`flask points expire`: the expiry sweep of consumers' points (run it daily; safe to run twice)."""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.db import retrying
from app.platform import workers
from app.points import ledger

points = AppGroup("points", help="Consumers' points.")


@points.command("expire")
@click.option("--at", "at", default=None, help="ISO time (UTC when naive) to expire as of; now when left out.")
@click.option("--batch", default=500, show_default=True, help="Consumers read per step.")
def expire(at, batch):
    """Expire what is left of every earning past its expiry (one EXPIRE entry each)."""
    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO time: {at!r}", param_hint="--at") from exc
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    def step() -> bool:
        report = retrying(lambda: ledger.expire(now, batch=batch))
        click.echo(f"expired {report['points']} points of {report['consumers']} consumers")
        return False

    workers.run(step, name="points-expire", idle_seconds=0, once=True)  # waits out an outage, then runs

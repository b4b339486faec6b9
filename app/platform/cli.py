"""`flask workers alive|beat`: worker liveness from the heartbeats (app.platform.heartbeat)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.platform import heartbeat

workers = AppGroup("workers", help="Worker liveness (heartbeat files).")


@workers.command("alive")
@click.option("--name", required=True, help="The worker: payouts, webhooks, codes, exports, scans, daily.")
@click.option("--max-age", default=120.0, show_default=True, help="Seconds since its last heartbeat.")
def alive(name, max_age):
    """Exit 0 when the worker went round its loop within --max-age seconds, 1 (saying why) when not."""
    ok, message = heartbeat.check(name, max_age=max_age)
    if not ok:
        raise click.ClickException(message)
    click.echo(message)


@workers.command("beat")
@click.option("--name", required=True, help="The worker (or job) that has just done its round.")
def beat(name):
    """Write a heartbeat now (for a loop written in the shell, such as the daily jobs)."""
    heartbeat.beat(name, force=True)
    click.echo(f"{name}: heartbeat written in {heartbeat.directory()}")

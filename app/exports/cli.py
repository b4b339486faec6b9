"""`flask exports ...`: the worker of large exports."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.exports import service

exports = AppGroup("exports", help="Exports of back-office lists and reports: the worker of large ones.")


@exports.command("work")
@click.option("--once", is_flag=True, help="Run the queued exports, then exit.")
@click.option("--poll", "poll_seconds", type=float, default=2.0, show_default=True,
              help="Seconds between looks for queued exports.")
def work(once, poll_seconds):
    """Run queued exports and remove expired files (EXPORT_RUNNER=worker)."""
    done = service.work(once=once, poll_seconds=poll_seconds)
    click.echo(f"ran {done} export(s)")

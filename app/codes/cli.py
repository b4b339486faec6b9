"""`flask codes ...`: the export worker."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.codes import export_jobs

codes = AppGroup("codes", help="Code issuance: the code pack export worker.")


@codes.command("work")
@click.option("--once", is_flag=True, help="Run the queued exports, then exit.")
@click.option("--poll", "poll_seconds", type=float, default=2.0, show_default=True,
              help="Seconds between looks for queued exports.")
def work(once, poll_seconds):
    """Run queued code pack exports (CODE_EXPORT_RUNNER=worker)."""
    done = export_jobs.work(once=once, poll_seconds=poll_seconds)
    click.echo(f"ran {done} export(s)")

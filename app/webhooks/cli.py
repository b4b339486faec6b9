"""`flask webhooks work`: the worker that pushes outbound events to the ERP's webhook endpoints."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.platform import workers
from app.webhooks import service

webhooks = AppGroup("webhooks", help="Outbound webhooks.")


@webhooks.command("work")
@click.option("--once", is_flag=True, help="Post what is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to wait when nothing was due.")
@click.option("--batch", default=100, show_default=True, help="Deliveries claimed per step.")
def work(once, interval, batch):
    """Post due deliveries, signed; retry failures with backoff (run as many workers as you like)."""
    def step() -> bool:
        report = service.deliver_due(limit=batch)
        if report.attempted:
            click.echo(f"delivered {report.delivered}, retrying {report.retried}, failed {report.failed}")
            for error in report.errors:
                click.echo(f"  {error}", err=True)
        return report.attempted >= batch

    workers.run(step, name="webhooks", idle_seconds=interval, once=once)

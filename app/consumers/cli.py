"""`flask consumers persist-scans`: the scan-log worker (app.consumers.scan_log)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app import workers
from app.consumers import scan_log
from app.extensions import redis

consumers = AppGroup("consumers", help="Consumer scans.")


@consumers.command("persist-scans")
@click.option("--once", is_flag=True, help="Write what is logged now, then exit.")
@click.option("--batch", default=500, show_default=True, help="Scans written per transaction.")
@click.option("--interval", default=0.5, show_default=True, help="Seconds to wait when a batch was not full.")
def persist_scans(once, batch, interval):
    """Write logged consumer scans to the database in batches (run one or more; each batch is idempotent)."""
    consumer, handled = scan_log.consumer_name(), []

    def step() -> bool:
        handled.append(scan_log.persist(limit=batch, consumer=consumer))
        return handled[-1] >= batch

    workers.run(step, name="persist-scans", idle_seconds=interval, once=once)
    if not once:
        click.echo(f"stopped; handled {sum(handled)} logged scans")
        return
    click.echo(f"handled {sum(handled)} logged scans; {scan_log.pending()} still logged; "
               f"{redis.llen(scan_log.DEAD)} in {scan_log.DEAD}")

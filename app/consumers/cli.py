"""`flask consumers persist-scans` (the scan-log worker, app.consumers.scan_worker), `flask consumers dead-scans
list|replay` (its dead letters) and `flask consumers move-copy-windows` (once, after the deploy that gave the
scan log's keys their hash tags: app.consumers.legacy_keys)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.consumers import legacy_keys, scan_log, scan_worker
from app.extensions import redis
from app.platform import workers

consumers = AppGroup("consumers", help="Consumer scans.")


@consumers.command("persist-scans")
@click.option("--once", is_flag=True, help="Write what is logged now, then exit.")
@click.option("--batch", default=500, show_default=True, help="Scans written per transaction.")
@click.option("--interval", default=0.5, show_default=True, help="Seconds to wait when a batch was not full.")
def persist_scans(once, batch, interval):
    """Write logged consumer scans to the database in batches (run one or more; each batch is idempotent)."""
    consumer, handled = scan_worker.consumer_name(), []

    def step() -> bool:
        handled.append(scan_worker.persist(limit=batch, consumer=consumer))
        return handled[-1] >= batch

    workers.run(step, name="persist-scans", idle_seconds=interval, once=once)
    if not once:
        click.echo(f"stopped; handled {sum(handled)} logged scans")
        return
    click.echo(f"handled {sum(handled)} logged scans; {scan_worker.pending()} still logged; "
               f"{redis.llen(scan_worker.DEAD)} in {scan_worker.DEAD}")


@consumers.command("move-copy-windows")
def move_copy_windows():
    """Merge the units' copy windows kept under their names before the hash tags into the new keys (once)."""
    click.echo(f"moved {legacy_keys.move_copy_windows(scan_log.copy_keys)} copy windows to their new keys")


@consumers.group("dead-scans")
def dead_scans():
    """Consumer scans the scan-log writer could not write (the database refused the record itself)."""


@dead_scans.command("list")
def list_dead_scans():
    """List the dead-lettered scans with why each was refused."""
    letters = scan_worker.dead_letters()
    for fields in letters:
        click.echo(f"scan {fields['id']} code {fields.get('code', '?')} user {fields.get('app_user_id', '?')} "
                   f"at {fields.get('scanned_at', '?')}: {fields.get('error', '')}")
    click.echo(f"{len(letters)} dead-lettered scan(s) in {scan_worker.DEAD}")


@dead_scans.command("replay")
def replay_dead_scans():
    """Write the dead-lettered scans again through the writer (safe to run twice: a scan is written once)."""
    replayed = scan_worker.replay_dead_letters()
    for item in replayed:
        click.echo(f"scan {item.scan_id}: {item.outcome.replace('_', ' ')}{': ' + item.error if item.error else ''}")
    counts = {kind: sum(1 for item in replayed if item.outcome == kind)
              for kind in ("written", "already_written", "refused")}
    click.echo(f"replayed {len(replayed)}: written {counts['written']}, already written "
               f"{counts['already_written']}, refused again {counts['refused']} (left in {scan_worker.DEAD})")


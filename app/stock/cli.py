"""`flask stock ...`: compare the stock positions with the units, or rebuild them from the units."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import retried_transaction, transaction
from app.platform import workers
from app.stock import service

stock = AppGroup("stock", help="Channel stock (warehouses, dealers, stores).")


def report_mismatches() -> None:
    """Print every position that differs from its units; exit 1 when any does."""
    found = []
    workers.run(lambda: found.append(service.check()), name="check-stock", idle_seconds=0, once=True)
    mismatches = found[-1]
    for m in mismatches:
        click.echo(f"{m.holder_kind.value} {m.holder_id} product {m.product_id} lot {m.lot_id} "
                   f"received {m.received_on}: stock {m.stock}, units {m.units}")
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} stock row(s) differ from their units")
    click.echo("stock matches the units")


@stock.command("check")
def check():
    """Compare every stock position with the count of its units; exit 1 when any differs."""
    report_mismatches()


def rebuild_positions() -> tuple[int, int]:
    """Date the undated items in stock, then recount the positions: (items dated, positions written)."""
    with transaction():
        dated = service.date_undated()

    def recount() -> int:
        # Writers change the positions after the units; the lock makes a move wait instead of
        # slipping between the recount and the rewrite.
        service.lock_for_rebuild()
        return service.rebuild()
    return dated, retried_transaction(recount)


@stock.command("rebuild")
def rebuild():
    """Recount every stock position from the units (one transaction; moves wait for it)."""
    found: list[tuple[int, int]] = []
    workers.run(lambda: found.append(rebuild_positions()), name="stock-rebuild", idle_seconds=0, once=True)
    dated, written = found[-1]
    click.echo(f"stock rebuilt from the units: {written} position(s); {dated} item(s) without a day received "
               "dated today")

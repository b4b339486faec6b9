"""`flask warehouse ...`: the stock consistency check."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app import workers
from app.warehouse import service

warehouse = AppGroup("warehouse", help="Warehouse stock.")


@warehouse.command("check-stock")
def check_stock():
    """Compare every stock row with the count of its units; exit 1 when any differs."""
    found = []
    workers.run(lambda: found.append(service.check_stock()), name="check-stock", idle_seconds=0, once=True)
    mismatches = found[-1]
    for m in mismatches:
        click.echo(f"warehouse {m.warehouse_id} product {m.product_id} lot {m.lot_id}: "
                   f"stock {m.stock}, units {m.units}")
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} stock row(s) differ from their units")
    click.echo("stock matches the units")

"""`flask warehouse ...`: the stock consistency check (now of every holder: ``flask stock check``)."""
from __future__ import annotations

from flask.cli import AppGroup

from app.stock.cli import report_mismatches

warehouse = AppGroup("warehouse", help="Warehouse stock.")


@warehouse.command("check-stock")
def check_stock():
    """Compare every stock position (warehouses, dealers, stores) with the count of its units; exit 1 when any differs."""
    report_mismatches()

"""`flask units ...`: the units' scan facts in Redis."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.units import scan_facts

units = AppGroup("units", help="Units: their scan facts in Redis.")


@units.command("warm-scan-facts")
def warm_scan_facts():
    """Put every unit's scan facts in Redis where they are missing (after Redis lost its data)."""
    click.echo(f"{scan_facts.warm():,} units' scan facts put in Redis")

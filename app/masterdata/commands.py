"""`flask regions ...` commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import transaction
from app.identity.service import Actor
from app.masterdata.regions import load_regions

regions = AppGroup("regions", help="China's administrative divisions (reference data).")


@regions.command("load")
def load():
    """Upsert the shipped region dataset (safe to run again)."""
    with transaction():
        counts = load_regions(actor=Actor.system("cli"))
    click.echo(", ".join(f"{count} {name}" for name, count in counts.items()))

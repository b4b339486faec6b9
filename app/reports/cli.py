"""`flask reports rebuild`: recompute the rollups of a range of days from the source rows."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from app.db import retried_transaction, utcnow
from app.platform.clock import china_day
from app.reports.rebuild import rebuild

reports = AppGroup("reports", help="Reports: the daily rollups behind them.")


@reports.command("rebuild")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First China day to recompute (default: today).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last China day to recompute (default: today).")
def rebuild_command(first, last):
    """Recompute the rollups of days FROM..TO from the source rows (after a repair, an upgrade, a doubt)."""
    today = china_day(utcnow())
    first_day: date = first.date() if first else today
    last_day: date = last.date() if last else today
    if last_day < first_day:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    done = retried_transaction(lambda: rebuild(first=first_day, last=last_day))
    click.echo(f"rebuilt {done.first}..{done.last}: {done.rows} rollup rows")

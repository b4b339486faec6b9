"""`flask payouts work` (the payout worker) and `flask payouts reconcile --day` (the daily check)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
from flask.cli import AppGroup

from app.payouts import reconciliation, worker
from app.platform import workers

payouts = AppGroup("payouts", help="The payout queue (WeChat Pay transfers and red packets).")


@payouts.command("work")
@click.option("--once", is_flag=True, help="Work what is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to wait when nothing was due.")
@click.option("--batch", default=100, show_default=True, help="Payouts claimed per step.")
def work(once, interval, batch):
    """Create, query, cancel and settle due payouts (run as many workers as you like)."""
    def step() -> bool:
        report = worker.work_due(limit=batch)
        if report.claimed:
            changed = ", ".join(f"{status} {n}" for status, n in sorted(report.changed.items())) or "none"
            click.echo(f"worked {report.claimed}: changed {changed}; in doubt, asked again later {report.retried}")
        return report.claimed >= batch

    workers.run(step, name="payouts", idle_seconds=interval, once=once)


@payouts.command("reconcile")
@click.option("--day", default=None, help="YYYY-MM-DD (UTC); yesterday when left out.")
def reconcile(day):
    """Compare a day's payouts with WeChat Pay's bills and list the mismatches."""
    if day is None:
        moment = datetime.now(timezone.utc) - timedelta(days=1)
    else:
        try:
            moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError as exc:
            raise click.BadParameter("YYYY-MM-DD", param_hint="--day") from exc
    result = reconciliation.reconcile(moment)
    click.echo(f"{result.day:%Y-%m-%d}: checked {result.checked}, mismatches {len(result.mismatches)}")
    for item in result.mismatches:
        click.echo(f"  payout {item['payout_id']} {item['out_bill_no']}: ours {item['ours']}, "
                   f"WeChat {item['wechat']} {item['note']}".rstrip())

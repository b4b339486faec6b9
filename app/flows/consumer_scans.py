"""A consumer's scan, then the campaigns it may enter: consumers decides the scan, campaigns what it opens.

The consumers domain knows nothing of campaigns; this flow runs the scan (or its hidden-code step) and
then asks campaigns which of them the scan can claim now, and which are closed to it and why.
"""
from __future__ import annotations

from datetime import datetime

from app.accounts import tokens
from app.accounts.models import AppUser
from app.campaigns import eligibility
from app.consumers import service as consumers
from app.db import utcnow


def scan(*, user: AppUser | tokens.Holder, text: str, **scan_args) -> consumers.ScanResult:
    """A consumer scans a printed URL or code (``consumers.service.scan``, same arguments), and is offered the
    campaigns the scan opens."""
    result = consumers.scan(user=user, text=text, **scan_args)
    result.campaigns, result.closed_campaigns = eligibility.open_campaigns(
        scan=result.scan, user=user, now=result.scan.scanned_at, first_scanner=result.first_scanner)
    return result


def prove_hidden_code(*, user: AppUser, scan_id: int, hidden_code: str, ip: str | None = None,
                      now: datetime | None = None) -> consumers.HiddenCodeResult:
    """The hidden-code step of a scan already made (``consumers.service.prove_hidden_code``), and the campaigns
    the scan opens now (a right code opens those that need it)."""
    now = now or utcnow()
    result = consumers.prove_hidden_code(user=user, scan_id=scan_id, hidden_code=hidden_code, ip=ip, now=now)
    result.campaigns, result.closed_campaigns = eligibility.open_campaigns(scan=result.scan, user=user, now=now)
    return result

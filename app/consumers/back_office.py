"""The back office's view of consumer scans: the scans in a data scope, and code-leak alerts resolved."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.consumers.errors import LeakAlertClosed, LeakAlertNotFound
from app.consumers.models import CodeLeakAlert, ConsumerScan, LeakAlertStatus, Verdict
from app.db import utcnow
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.identity.service import Actor, audit
from app.masterdata.rules import region_prefix


def list_scans(*, verdict: str | None = None, product_id: int | None = None, region_code: str | None = None,
               scanned_from: datetime | None = None, scanned_to: datetime | None = None,
               scope: DataScope = NATIONAL):
    """Consumer scans, newest first, located in the scope (a scan without a place: national users only)."""
    query = sa.select(ConsumerScan).where(scope.filter(ConsumerScan.region_code)).order_by(ConsumerScan.id.desc())
    if verdict:
        query = query.where(ConsumerScan.verdict == Verdict(verdict))
    if product_id is not None:
        query = query.where(ConsumerScan.product_id == product_id)
    if region_code:
        query = query.where(ConsumerScan.region_code.like(region_prefix(region_code) + "%"))
    if scanned_from is not None:
        query = query.where(ConsumerScan.scanned_at >= scanned_from)
    if scanned_to is not None:
        query = query.where(ConsumerScan.scanned_at < scanned_to)
    return query


def list_leak_alerts(*, status: str | None = None):
    query = sa.select(CodeLeakAlert).order_by(CodeLeakAlert.id.desc())
    if status:
        query = query.where(CodeLeakAlert.status == LeakAlertStatus(status))
    return query


def resolve_leak_alert(*, actor: Actor, alert_id: int, resolution: str) -> CodeLeakAlert:
    alert = db.session.scalar(sa.select(CodeLeakAlert).where(CodeLeakAlert.id == alert_id).with_for_update())
    if alert is None:
        raise LeakAlertNotFound()
    if alert.status is LeakAlertStatus.RESOLVED:
        raise LeakAlertClosed()
    alert.status, alert.resolved_by, alert.resolved_at, alert.resolution = (
        LeakAlertStatus.RESOLVED, actor.name, utcnow(), resolution)
    audit(actor, "code_leak_alert.resolve", alert, {"status": ["open", "resolved"], "resolution": [None, resolution]})
    return alert

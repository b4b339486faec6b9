"""Payout incidents: what people must look at (a payout long in doubt, money that could not be taken
back, a mismatch reconciliation could not repair), listed once per payout and kind."""
from __future__ import annotations

import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.payouts.errors import IncidentNotFound
from app.payouts.models import IncidentKind, Payout, PayoutIncident


def _raise_incident(payout: Payout, kind: IncidentKind, amount_fen: int, detail: str) -> None:
    """List something about a payout for people, once per payout and kind (a resolved one opens again)."""
    incident = db.session.scalar(sa.select(PayoutIncident).where(PayoutIncident.payout_id == payout.id,
                                                                 PayoutIncident.kind == kind))
    if incident is None:
        db.session.add(PayoutIncident(payout_id=payout.id, kind=kind, amount_fen=amount_fen, detail=detail[:500]))
    elif incident.resolved_at is not None:
        incident.resolved_at = incident.resolved_by = incident.resolution = None
        incident.amount_fen, incident.detail, incident.created_at = amount_fen, detail[:500], utcnow()


def list_incidents(*, open_only: bool = True, kind: str | None = None):
    query = sa.select(PayoutIncident).order_by(PayoutIncident.id.desc())
    if open_only:
        query = query.where(PayoutIncident.resolved_at.is_(None))
    if kind:
        query = query.where(PayoutIncident.kind == IncidentKind(kind))
    return query


def resolve_incident(*, actor: Actor, incident_id: int, resolution: str) -> PayoutIncident:
    """A person closes an incident, saying what was done (the payout itself is not changed)."""
    incident = db.session.scalar(sa.select(PayoutIncident).where(PayoutIncident.id == incident_id).with_for_update())
    if incident is None:
        raise IncidentNotFound()
    if incident.resolved_at is None:
        incident.resolved_at, incident.resolved_by, incident.resolution = utcnow(), actor.name[:128], resolution[:500]
        audit(actor, "payout.incident.resolve", incident, {"resolution": [None, incident.resolution]})
    return incident

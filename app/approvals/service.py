"""Dual control, one mechanism for every action: a request by one back-office user, a decision by another.

Each kind of action is registered once (`register`) with the roles that may approve it and what runs
when it is approved. Approving runs the action in the approver's transaction; an action without an
executor is a grant instead (a download): the approval lets the requester do it once, for a while.
Every request, decision and use of a grant is audited.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from flask import current_app

from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.db import insert_once, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.identity.models import Role
from app.identity.service import Actor, audit

OPEN = (ApprovalStatus.PENDING, ApprovalStatus.APPROVED)


class ApprovalNotFound(NotFound):
    code = "approval_not_found"
    message = "No such approval request."


class ApprovalNotPending(Conflict):
    code = "approval_not_pending"
    message = "This request is decided already."


class ApprovalExpired(Conflict):
    code = "approval_expired"
    message = "This request was not decided in time; ask again."


class ApprovalPendingOther(Conflict):
    code = "approval_pending"
    message = "Another request for this action on this target waits for approval; decide or withdraw it first."


class ApprovalStale(Conflict):
    code = "approval_stale"
    message = "The target changed since the request was made; reject it and ask again."


class SelfApproval(Forbidden):
    code = "approval_by_requester"
    message = "A request needs a second person: its requester cannot approve it."


class ApproverRoleForbidden(Forbidden):
    code = "approval_role_forbidden"
    message = "Your role may not approve this kind of request."


@dataclass(frozen=True)
class Action:
    """A kind of action under dual control."""

    kind: str  # "rebate_statement.approve"
    target_type: str  # the target's table, "rebate_statements"
    approvers: frozenset[Role]
    # Runs the approved action as the approver, in the approval's transaction; None: the approval is a
    # grant the requester uses later (see use_grant).
    execute: Callable[..., object] | None = None


_ACTIONS: dict[str, Action] = {}


def register(action: Action) -> None:
    _ACTIONS[action.kind] = action


def action_of(kind: str) -> Action:
    return _ACTIONS[kind]


def kinds() -> list[str]:
    return sorted(_ACTIONS)


def _open(kind: str, target_id: int, open_key: str, *, lock: bool = False) -> ApprovalRequest | None:
    """The open request of this action on this target; locked, it is the latest committed one
    (a plain read on MariaDB sees the transaction's first snapshot)."""
    action = action_of(kind)
    query = sa.select(ApprovalRequest).where(
        ApprovalRequest.kind == kind, ApprovalRequest.target_type == action.target_type,
        ApprovalRequest.target_id == target_id, ApprovalRequest.open_key == open_key)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


def _close(request: ApprovalRequest, status: ApprovalStatus, **values) -> bool:
    """Move an open request to a closed status, if it is still in the status read (a guarded UPDATE:
    of two people deciding at once, one moves it); True when this call moved it."""
    moved = db.session.execute(
        sa.update(ApprovalRequest)
        .where(ApprovalRequest.id == request.id, ApprovalRequest.status == request.status)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(request)
    return moved == 1


def request(*, actor: Actor, kind: str, target_id: int, params: dict, open_key: str = "") -> ApprovalRequest:
    """Ask a second person to approve an action; the same request again answers the open one."""
    action, now = action_of(kind), utcnow()
    for attempt in range(2):
        existing = _open(kind, target_id, open_key, lock=attempt > 0)
        if existing is not None and existing.state(now) is ApprovalStatus.EXPIRED:
            _close(existing, ApprovalStatus.EXPIRED, open_key=None)
            audit(Actor.system(), "approval.expire", existing)
            existing = None
        if existing is not None:
            if existing.params != params or existing.requested_by_id != actor.id:
                raise ApprovalPendingOther(errors={"approval_id": existing.id,
                                                   "requested_by": existing.requested_by})
            return existing
        created = ApprovalRequest(
            kind=kind, target_type=action.target_type, target_id=target_id, open_key=open_key, params=params,
            status=ApprovalStatus.PENDING, requested_by_id=actor.id, requested_by=actor.name, requested_at=now,
            expires_at=now + timedelta(hours=current_app.config["APPROVAL_PENDING_HOURS"]))
        if insert_once(created):
            audit(actor, "approval.request", created, {"kind": [None, kind], "target_type": [None, action.target_type],
                                                       "target_id": [None, target_id], "params": [None, params]})
            return created
        # A twin request committed first: answer it (or refuse, if it asks something else).
    raise AssertionError("an open request was inserted and then vanished")


def get_request(request_id: int, *, lock: bool = False) -> ApprovalRequest:
    found = db.session.get(ApprovalRequest, request_id, populate_existing=True, with_for_update=lock)
    if found is None:
        raise ApprovalNotFound()
    return found


def _decidable(actor: Actor, found: ApprovalRequest) -> Action:
    action = action_of(found.kind)
    if actor.role not in action.approvers:
        raise ApproverRoleForbidden(errors={"approvers": sorted(role.value for role in action.approvers)})
    return action


def approve(*, actor: Actor, request_id: int) -> ApprovalRequest:
    """Approve a pending request: its action runs now, as the approver (or its grant opens); once only."""
    # Locked: of two people approving at once, the second reads the first one's decision.
    found, now = get_request(request_id, lock=True), utcnow()
    action = _decidable(actor, found)
    if found.requested_by_id == actor.id:
        raise SelfApproval()
    if found.status is not ApprovalStatus.PENDING:
        if found.decided_by_id == actor.id and found.status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED):
            return found  # the same approval again (a retry): nothing more happens
        raise ApprovalNotPending(errors={"status": found.state(now).value})
    if found.state(now) is ApprovalStatus.EXPIRED:
        raise ApprovalExpired()
    decided = {"decided_by_id": actor.id, "decided_by": actor.name, "decided_at": now}
    if action.execute is None:
        opened = _close(found, ApprovalStatus.APPROVED,
                        expires_at=now + timedelta(minutes=current_app.config["APPROVAL_GRANT_MINUTES"]), **decided)
    else:
        opened = _close(found, ApprovalStatus.EXECUTED, open_key=None, executed_at=now, **decided)
    if not opened:  # decided between our read and our update (SQLite takes no row lock)
        raise ApprovalNotPending(errors={"status": found.state(now).value})
    audit(actor, "approval.approve", found, {"status": [ApprovalStatus.PENDING, found.status],
                                             "requested_by": [None, found.requested_by]})
    if action.execute is not None:
        action.execute(actor=actor, request=found)
    return found


def reject(*, actor: Actor, request_id: int, reason: str) -> ApprovalRequest:
    """Refuse a pending request (a requester may withdraw their own); nothing runs."""
    found, now = get_request(request_id, lock=True), utcnow()
    if found.requested_by_id != actor.id:
        _decidable(actor, found)
    if found.status is not ApprovalStatus.PENDING:
        if found.status is ApprovalStatus.REJECTED and found.decided_by_id == actor.id:
            return found
        raise ApprovalNotPending(errors={"status": found.state(now).value})
    if not _close(found, ApprovalStatus.REJECTED, open_key=None, decided_by_id=actor.id, decided_by=actor.name,
                  decided_at=now, reason=reason):
        raise ApprovalNotPending(errors={"status": found.state(now).value})
    audit(actor, "approval.reject", found, {"status": [ApprovalStatus.PENDING, found.status],
                                            "reason": [None, reason]})
    return found


def use_grant(*, actor: Actor, kind: str, target_id: int, open_key: str = "") -> ApprovalRequest | None:
    """Use the actor's approved grant for this action on this target, once; None when there is none."""
    grant, now = _open(kind, target_id, open_key, lock=True), utcnow()
    if grant is None or grant.requested_by_id != actor.id or grant.status is not ApprovalStatus.APPROVED \
            or grant.state(now) is ApprovalStatus.EXPIRED:
        return None
    if not _close(grant, ApprovalStatus.EXECUTED, open_key=None, executed_at=now):
        return None  # a concurrent download of the same grant used it
    audit(actor, "approval.use", grant, {"status": [ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED]})
    return grant


def check_unchanged(found: ApprovalRequest, current: dict) -> None:
    """The approver approves what was asked: refuse when the target's figures moved since the request."""
    moved = {name: {"asked": found.params.get(name), "now": value}
             for name, value in current.items() if found.params.get(name) != value}
    if moved:
        raise ApprovalStale(errors=moved)


def list_requests(*, status: str | None = None, kind: str | None = None, target_type: str | None = None,
                  target_id: int | None = None, now: datetime | None = None):
    """Requests, newest first; "pending" and "expired" are as of now (an overdue open request is expired)."""
    now = now or utcnow()
    query = sa.select(ApprovalRequest).order_by(ApprovalRequest.id.desc())
    if status:
        wanted = ApprovalStatus(status)
        if wanted in OPEN:
            query = query.where(ApprovalRequest.status == wanted, ApprovalRequest.expires_at > now)
        elif wanted is ApprovalStatus.EXPIRED:
            query = query.where(sa.or_(ApprovalRequest.status == wanted, sa.and_(
                ApprovalRequest.status.in_(OPEN), ApprovalRequest.expires_at <= now)))
        else:
            query = query.where(ApprovalRequest.status == wanted)
    if kind:
        if kind not in _ACTIONS:
            raise ValidationFailed(f"No such kind of request: {kind!r}.", code="approval_kind_unknown",
                                   errors={"kind": kinds()})
        query = query.where(ApprovalRequest.kind == kind)
    if target_type:
        query = query.where(ApprovalRequest.target_type == target_type)
    if target_id is not None:
        query = query.where(ApprovalRequest.target_id == target_id)
    return query

"""Post notices to dealers and stores; list and mark them read for a member of the recipient.

A notice is a row, written in the transaction of the fact it reports (as outbound events are): a
recall and its notices commit or roll back together. The mini-programs read them; nothing is pushed.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.db import insert_once, utcnow
from app.errors import NotFound
from app.extensions import db
from app.notices.models import Notice, NoticeKind, NoticeRead, Recipient


class NoticeNotFound(NotFound):
    code = "notice_not_found"
    message = "No such notice."


def post(*, kind: NoticeKind, notices: list[dict], recall_id: int | None = None) -> int:
    """Post notices (dicts of recipient_kind, recipient_id, title, body, data) in the current transaction."""
    if not notices:
        return 0
    now = utcnow()
    db.session.execute(sa.insert(Notice), [
        {"kind": kind, "recall_id": recall_id, "created_at": now, "data": {}, **notice} for notice in notices])
    return len(notices)


def _read_at(app_user_id: int):
    return sa.select(NoticeRead.read_at).where(NoticeRead.notice_id == Notice.id,
                                               NoticeRead.app_user_id == app_user_id).scalar_subquery()


def list_notices(*, recipient_kind: Recipient, recipient_id: int, app_user_id: int, unread: bool | None = None):
    """The recipient's notices, newest first, each with when this user read it (a select of rows, for paging)."""
    read_at = _read_at(app_user_id)
    query = (sa.select(Notice.id, Notice.kind, Notice.recall_id, Notice.title, Notice.body, Notice.data,
                       Notice.created_at, read_at.label("read_at"))
             .where(Notice.recipient_kind == recipient_kind, Notice.recipient_id == recipient_id)
             .order_by(Notice.id.desc()))
    if unread is not None:
        query = query.where(read_at.is_(None) if unread else read_at.is_not(None))
    return query


def unread_count(*, recipient_kind: Recipient, recipient_id: int, app_user_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notice).where(
        Notice.recipient_kind == recipient_kind, Notice.recipient_id == recipient_id,
        _read_at(app_user_id).is_(None)))


def mark_read(*, recipient_kind: Recipient, recipient_id: int, app_user_id: int, notice_id: int) -> NoticeRead:
    """This user read the notice (again: no change). Another recipient's notice is 404, as if absent."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or (notice.recipient_kind, notice.recipient_id) != (recipient_kind, recipient_id):
        raise NoticeNotFound()
    read = db.session.get(NoticeRead, (notice_id, app_user_id))
    if read is None:
        read = NoticeRead(notice_id=notice_id, app_user_id=app_user_id, read_at=utcnow())
        if not insert_once(read):  # a twin request of the same user read it first
            read = db.session.get(NoticeRead, (notice_id, app_user_id))
    return read

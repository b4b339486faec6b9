"""The clerks' ledger: points and cash credited and debited, once per source.

The ledger is idempotent by its source (a repeated source is a no-op) and the balance moves by
atomic SQL only, never below zero.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.db import insert_once
from app.extensions import db
from app.retail.errors import InsufficientBalance
from app.retail.models import LedgerEntry, RewardBalance, RewardKind


def _existing_entry(kind: RewardKind, source: str, *, lock: bool = False) -> LedgerEntry | None:
    query = sa.select(LedgerEntry).where(LedgerEntry.kind == kind, LedgerEntry.source == source)
    return db.session.scalar(query.with_for_update() if lock else query)


def _entry(app_user_id: int, kind: RewardKind, amount: int, source: str, note: str) -> tuple[LedgerEntry, bool]:
    """The ledger entry of this source: (new entry, True), or (the existing one, False).

    The first look is a plain read: a locking read of a missing key would take a gap lock, and two
    inserts into one gap then deadlock. The unique key settles a race; the locking read after it
    sees the row the other transaction committed.
    """
    existing = _existing_entry(kind, source)
    if existing is not None:
        return existing, False
    entry = LedgerEntry(app_user_id=app_user_id, kind=kind, amount=amount, source=source, note=note[:200])
    if not insert_once(entry):  # the same source written concurrently: it happened once
        return _existing_entry(kind, source, lock=True), False
    return entry, True


def credit(*, app_user_id: int, kind: RewardKind | str, amount: int, source: str, note: str = "") -> LedgerEntry:
    """Add to a clerk's balance, once per source (a repeated source returns the existing entry)."""
    return _credit(app_user_id, RewardKind(kind), amount, source, note)[0]


def credit_if_new(*, app_user_id: int, kind: RewardKind | str, amount: int, source: str,
                  note: str = "") -> LedgerEntry | None:
    """Like ``credit``, answering None when the source was credited before."""
    entry, new = _credit(app_user_id, RewardKind(kind), amount, source, note)
    return entry if new else None


def _credit(app_user_id: int, kind: RewardKind, amount: int, source: str, note: str) -> tuple[LedgerEntry, bool]:
    if amount <= 0:
        raise ValueError("a credit is positive")
    entry, new = _entry(app_user_id, kind, amount, source, note)
    if new:
        values = {"app_user_id": app_user_id, "kind": kind, "balance": amount}
        if db.session.get_bind().dialect.name in ("mysql", "mariadb"):
            statement = mysql.insert(RewardBalance).values(values).on_duplicate_key_update(
                balance=RewardBalance.balance + amount)
        else:
            statement = sqlite.insert(RewardBalance).values(values).on_conflict_do_update(
                index_elements=[RewardBalance.app_user_id, RewardBalance.kind],
                set_={"balance": RewardBalance.balance + amount})
        db.session.execute(statement)
    return entry, new


def debit(*, app_user_id: int, kind: RewardKind | str, amount: int, source: str, note: str = "") -> LedgerEntry:
    """Take from a clerk's balance, once per source; 409 ``insufficient_balance`` beyond it."""
    kind = RewardKind(kind)
    if amount <= 0:
        raise ValueError("a debit is positive")
    entry, new = _entry(app_user_id, kind, -amount, source, note)
    if new:
        # Atomic: the row lock orders two debits, the condition sees the first's result.
        result = db.session.execute(sa.update(RewardBalance).where(
            RewardBalance.app_user_id == app_user_id, RewardBalance.kind == kind,
            RewardBalance.balance >= amount).values(balance=RewardBalance.balance - amount))
        if result.rowcount != 1:
            raise InsufficientBalance()
    return entry


def balances(*, app_user_id: int) -> dict[str, int]:
    found = dict(db.session.execute(sa.select(RewardBalance.kind, RewardBalance.balance)
                                    .where(RewardBalance.app_user_id == app_user_id)).all())
    return {kind.value: found.get(kind, 0) for kind in RewardKind}


def list_ledger(*, app_user_id: int, kind: str | None = None):
    query = sa.select(LedgerEntry).where(LedgerEntry.app_user_id == app_user_id)
    if kind:
        query = query.where(LedgerEntry.kind == RewardKind(kind))
    return query.order_by(LedgerEntry.id.desc())

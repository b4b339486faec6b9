"""Store and clerk use cases: sale scans and their rewards, the clerks' ledger, withdrawals, rankings, receipts.

A unit is sale-scanned once, ever: the unit's row is locked first (two clerks scanning the same unit
queue up), and the unique serial of ``sale_scans`` settles whatever gets past that. The reward is
the best matching active rule at the scan time; it goes to the clerk's ledger in the same
transaction. The ledger is idempotent by its source (a repeated source is a no-op) and the balance
moves by atomic SQL only, never below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError

from app.accounts.models import AppUser, MembershipStatus, StoreMembership
from app.channel import diversion, receipts
from app.channel.models import PartyKind, SeenKind, Shipment, ShipmentScan, ShipmentUnit
from app.codes.models import Level
from app.db import insert_once, utcnow
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.identity.service import Actor, audit
from app.masterdata import refs
from app.masterdata.models import Product, Region, RegionLevel, Status, Store
from app.payouts import queue, service as payouts
from app.payouts.models import PayoutPurpose, PayoutRef, PayoutStatus
from app.reports import facts as report_facts, rollups
from app.retail import rules
from app.retail.models import (
    LedgerEntry, RewardBalance, RewardKind, RewardRule, SaleScan, Withdrawal, WithdrawalStatus,
)
from app.units import rules as unit_rules
from app.units import unit_rows
from app.units.models import EventKind, LocationKind, UnitStatus
from app.webhooks.service import emit

SALE_MAX_AGE = timedelta(days=3)  # an offline phone uploads late, but not a week later
RANKING_MAX = 100
# Region levels to the length of the adcode prefix their descendants share.
PREFIX_LENGTH = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.DISTRICT: 6}


def actor_label(user: AppUser) -> str:
    return f"app_user:{user.id}"


# --- the clerk's store -------------------------------------------------------------------------

def current_store(*, user: AppUser) -> StoreMembership:
    """The user's approved membership of an active store, or 403 ``no_store``."""
    membership = db.session.scalar(sa.select(StoreMembership).where(
        StoreMembership.app_user_id == user.id, StoreMembership.status == MembershipStatus.APPROVED))
    if membership is None or membership.store.status is not Status.ACTIVE:
        raise rules.NoStore()
    return membership


# --- sale scans --------------------------------------------------------------------------------

@dataclass(slots=True)
class SaleResult:
    """A sale scan and what it earned (``credited``: the ledger entry, None when withheld or no rule)."""

    sale: SaleScan
    product: Product
    credited: LedgerEntry | None


def sale_scan(*, user: AppUser, store_id: int, code: str, scanned_at: datetime | None = None) -> SaleResult:
    """A clerk of ``store_id`` scans a unit sold: the unit is sold here, the clerk earns the rule's reward."""
    now = utcnow()
    membership = current_store(user=user)
    if membership.store_id != store_id:
        raise rules.NoStore()
    shop = membership.store
    scanned_at = scanned_at or now
    if unit_rules.scan_time_invalid(scanned_at, now) or scanned_at < now - SALE_MAX_AGE:
        raise rules.refuse_sale(rules.SCAN_TIME_INVALID)

    decoded = unit_rows.CodeReader().read(code)
    if isinstance(decoded, str):
        raise rules.refuse_sale(decoded)
    reason = unit_rows.issue_reason(unit_rows.BatchIndex.covering([decoded.serial]).batch_of(decoded))
    if reason:
        raise rules.refuse_sale(reason)

    unit, parent = _lock_unit(decoded.serial)
    _check_sellable(unit)
    if _already_sold(unit.serial):
        raise rules.refuse_sale(rules.ALREADY_SOLD)

    not_received = not (unit.location_kind is LocationKind.STORE and unit.location_id == store_id
                        and not unit.in_transit)
    rule = best_rule(product_id=unit.product_id, region_code=shop.region_code, at=scanned_at)
    withheld = bool(rule and not_received and rule.withhold_not_received)
    sale = SaleScan(serial=unit.serial, code=decoded.code, store_id=store_id, app_user_id=user.id,
                    product_id=unit.product_id, lot_id=unit.lot_id, region_code=shop.region_code,
                    not_received=not_received, rule_id=rule.id if rule else None,
                    reward_kind=rule.kind if rule else None, reward_amount=rule.amount if rule else 0,
                    withheld=withheld, scanned_at=scanned_at)
    db.session.add(sale)
    try:
        db.session.flush()
    except IntegrityError:  # another clerk's scan of this unit committed first
        raise rules.refuse_sale(rules.ALREADY_SOLD) from None

    # Seen where it was found, before it leaves for the consumer.
    diversion.check(units=[unit], seen_kind=SeenKind.SALE, place_kind="store", place_id=store_id,
                    region_code=shop.region_code, seen_by=actor_label(user), seen_at=scanned_at)
    origin = {"kind": unit.location_kind.value, "id": unit.location_id, "in_transit": unit.in_transit}
    _move_to_consumer(unit, parent, store_id=store_id, sale=sale, origin=origin, now=now,
                      source=actor_label(user))

    credited = None
    if rule and not withheld:
        credited = credit(app_user_id=user.id, kind=rule.kind, amount=rule.amount, source=f"sale:{sale.id}",
                          note=f"Sale of {decoded.code}")
    product = db.session.get(Product, unit.product_id)
    emit("sale.scanned", {
        "sale_scan_id": sale.id, "code": decoded.code, "serial": unit.serial, "store_id": store_id,
        "app_user_id": user.id, "product_id": unit.product_id, "lot_id": unit.lot_id,
        "region_code": shop.region_code, "not_received": not_received, "scanned_at": scanned_at.isoformat(),
        "reward": {"kind": rule.kind.value, "amount": rule.amount, "withheld": withheld} if rule else None,
        "store": refs.of_party("store", shop), "product": refs.of_product(product),
    })
    return SaleResult(sale, product, credited)


def _lock_unit(serial: int) -> tuple[unit_rows.UnitState, unit_rows.UnitState | None]:
    """The unit (and the case it is packed in, if any), locked in serial order."""
    peek = unit_rows.load_units([serial], lock=False).get(serial)
    if peek is None:
        raise rules.refuse_sale(rules.NOT_COMMISSIONED)
    wanted = {serial} | ({peek.parent_serial} if peek.parent_serial is not None else set())
    locked = unit_rows.load_units(wanted)
    unit = locked[serial]
    if unit.parent_serial is not None and unit.parent_serial not in locked:
        # Repacked between the two reads (rare): lock the new parent too.
        locked.update(unit_rows.load_units([unit.parent_serial]))
    return unit, locked.get(unit.parent_serial) if unit.parent_serial is not None else None


def _already_sold(serial: int) -> bool:
    # A plain read (a locking read of a missing serial would gap-lock, and two clerks selling units
    # in one gap would deadlock). A sale committed while we waited for the unit's lock may be
    # missed here; the unique serial then refuses our insert.
    return db.session.scalar(sa.select(SaleScan.id).where(SaleScan.serial == serial)) is not None


def _check_sellable(unit: unit_rows.UnitState) -> None:
    if unit.level is not Level.ITEM:
        raise rules.refuse_sale(rules.WRONG_LEVEL)
    if unit.status is UnitStatus.SCRAPPED:
        raise rules.refuse_sale(rules.SCRAPPED)
    if unit.status is UnitStatus.VOIDED:
        raise rules.refuse_sale(rules.VOIDED)
    if unit.recall_id is not None:
        raise rules.refuse_sale(rules.RECALLED)


def _move_to_consumer(unit: unit_rows.UnitState, parent: unit_rows.UnitState | None, *, store_id: int,
                      sale: SaleScan, origin: dict, now: datetime, source: str) -> None:
    """The unit leaves for a consumer (taken out of its case if packed), with its SELL event."""
    before = {unit.serial: unit_rows.stock_key(unit)}
    events = []
    if parent is not None:
        events.append(unit_rows.event_row(
            kind=EventKind.REMOVE, serial=unit.serial, parent_serial=parent.serial, occurred_at=sale.scanned_at,
            recorded_at=now, location_kind=LocationKind.STORE, location_id=store_id, source=source,
            data={"why": "sold", "sale_scan_id": sale.id}))
        parent.child_count = max(parent.child_count - 1, 0)
        unit_rows.save_units([parent], ["child_count"])
        unit.parent_serial = None
    unit.location_kind, unit.location_id, unit.in_transit = LocationKind.CONSUMER, store_id, False
    unit_rows.save_units([unit], ["location_kind", "location_id", "in_transit", "parent_serial"])
    unit_rows.adjust_stock(unit_rows.stock_deltas(before, [unit]))
    events.append(unit_rows.event_row(
        kind=EventKind.SELL, serial=unit.serial, lot_id=unit.lot_id, occurred_at=sale.scanned_at, recorded_at=now,
        location_kind=LocationKind.STORE, location_id=store_id, source=source,
        data={"sale_scan_id": sale.id, "from": origin, "not_received": sale.not_received}))
    unit_rows.write_events(events, units={unit.serial: unit})


def region_chain(region_code: str) -> list[str]:
    """The region and its ancestors (district → city → province)."""
    chain, code = [], region_code
    while code and code not in chain and len(chain) < 5:
        chain.append(code)
        code = db.session.scalar(sa.select(Region.parent_code).where(Region.code == code))
    return chain


def best_rule(*, product_id: int | None, region_code: str, at: datetime) -> RewardRule | None:
    """The active rule for this product, region and time; most specific wins (product+region >
    product > region > any), then the highest amount."""
    chain = region_chain(region_code)
    candidates = db.session.scalars(sa.select(RewardRule).where(
        RewardRule.status == Status.ACTIVE, RewardRule.starts_at <= at, RewardRule.ends_at > at,
        sa.or_(RewardRule.product_id.is_(None), RewardRule.product_id == product_id),
        sa.or_(RewardRule.region_code.is_(None), RewardRule.region_code.in_(chain)))).all()
    if not candidates:
        return None

    def rank(rule: RewardRule):
        # Within a specificity, a nearer region (district over province) first, then the amount.
        depth = len(chain) - chain.index(rule.region_code) if rule.region_code else 0
        return (rule.product_id is not None, rule.region_code is not None, rule.amount, depth, -rule.id)
    return max(candidates, key=rank)


# --- reward rules (back office) -----------------------------------------------------------------

RULE_FIELDS = ("name", "product_id", "region_code", "starts_at", "ends_at", "kind", "amount",
               "withhold_not_received", "status")


def _check_rule(rule: RewardRule) -> None:
    with db.session.no_autoflush:  # the database's own checks would refuse the changes with a 500
        _check_rule_values(rule)


def _check_rule_values(rule: RewardRule) -> None:
    errors = {}
    if rule.amount is None or rule.amount <= 0:
        errors["amount"] = ["An amount is positive (points, or fen)."]
    if rule.starts_at is None or rule.ends_at is None or rule.ends_at <= rule.starts_at:
        errors["ends_at"] = ["A rule ends after it starts."]
    if rule.product_id is not None and db.session.get(Product, rule.product_id) is None:
        errors["product_id"] = ["No such product."]
    if rule.region_code is not None and db.session.get(Region, rule.region_code) is None:
        errors["region_code"] = ["No such region."]
    if errors:
        raise rules.RewardRuleInvalid(errors=errors)


def _apply_rule(rule: RewardRule, values: dict) -> dict:
    changes = {}
    for name in RULE_FIELDS:
        if name in values:
            value = values[name]
            if name == "kind" and value is not None:
                value = RewardKind(value)
            if name == "status" and value is not None:
                value = Status(value)
            if getattr(rule, name) != value:
                changes[name] = [getattr(rule, name), value]
                setattr(rule, name, value)
    return changes


def create_reward_rule(*, actor: Actor, data: dict) -> RewardRule:
    """A reward for sale scans: per product and region (or any), within a period."""
    rule = RewardRule(status=Status.ACTIVE, withhold_not_received=True)
    _apply_rule(rule, data)
    _check_rule(rule)
    db.session.add(rule)
    db.session.flush()
    audit(actor, "reward_rule.create", rule, {"amount": [None, rule.amount]})
    return rule


def get_reward_rule(rule_id: int) -> RewardRule:
    rule = db.session.get(RewardRule, rule_id)
    if rule is None:
        raise rules.RewardRuleNotFound()
    return rule


def update_reward_rule(*, actor: Actor, rule_id: int, changes: dict) -> RewardRule:
    rule = get_reward_rule(rule_id)
    changed = _apply_rule(rule, changes)
    _check_rule(rule)
    if changed:
        db.session.flush()
        audit(actor, "reward_rule.update", rule, changed)
    return rule


def list_reward_rules(*, status=None, product_id=None, region_code=None, active_at=None):
    query = sa.select(RewardRule).order_by(RewardRule.id.desc())
    if status:
        query = query.where(RewardRule.status == Status(status))
    if product_id is not None:
        query = query.where(RewardRule.product_id == product_id)
    if region_code:
        query = query.where(RewardRule.region_code == region_code)
    if active_at is not None:
        query = query.where(RewardRule.starts_at <= active_at, RewardRule.ends_at > active_at)
    return query


def list_my_sales(*, user: AppUser):
    return sa.select(SaleScan).where(SaleScan.app_user_id == user.id).order_by(SaleScan.id.desc())


def list_sale_scans(*, store_id=None, product_id=None, app_user_id=None, not_received=None,
                    since=None, until=None, scope: DataScope = NATIONAL):
    """Sale scans, newest first, in the scope's regions (a scan carries its store's region)."""
    query = sa.select(SaleScan).where(scope.filter(SaleScan.region_code)).order_by(SaleScan.id.desc())
    if store_id is not None:
        query = query.where(SaleScan.store_id == store_id)
    if product_id is not None:
        query = query.where(SaleScan.product_id == product_id)
    if app_user_id is not None:
        query = query.where(SaleScan.app_user_id == app_user_id)
    if not_received is not None:
        query = query.where(SaleScan.not_received == not_received)
    if since is not None:
        query = query.where(SaleScan.scanned_at >= since)
    if until is not None:
        query = query.where(SaleScan.scanned_at < until)
    return query


# --- ledger ------------------------------------------------------------------------------------

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
            raise rules.InsufficientBalance()
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


# --- withdrawals -------------------------------------------------------------------------------

def withdrawal_minimum() -> int:
    return current_app.config["WITHDRAWAL_MIN_FEN"]


def _withdrawal_by_request(app_user_id: int, request_id: str, *, lock: bool = False) -> Withdrawal | None:
    query = sa.select(Withdrawal).where(Withdrawal.app_user_id == app_user_id, Withdrawal.request_id == request_id)
    return db.session.scalar(query.with_for_update() if lock else query)


def request_withdrawal(*, user: AppUser, amount: int, request_id: str) -> Withdrawal:
    """Take accrued cash (fen) out for the payout queue; the same request_id is the same withdrawal."""
    existing = _withdrawal_by_request(user.id, request_id)  # plain read: no gap lock (see _entry)
    if existing is None:
        if amount < withdrawal_minimum():
            raise rules.WithdrawalBelowMinimum(f"A withdrawal is at least {withdrawal_minimum()} fen.")
        withdrawal = Withdrawal(app_user_id=user.id, request_id=request_id, amount=amount,
                                status=WithdrawalStatus.REQUESTED)
        if not insert_once(withdrawal):  # the same request sent twice at once
            existing = _withdrawal_by_request(user.id, request_id, lock=True)
        else:
            debit(app_user_id=user.id, kind=RewardKind.CASH, amount=amount, source=f"withdrawal:{withdrawal.id}",
                  note="Withdrawal requested")
            withdrawal.payout_id = queue.enqueue(source=PayoutRef(PayoutPurpose.WITHDRAWAL, withdrawal.id),
                                                 app_user=user, amount_fen=amount).id
            return withdrawal
    if existing.amount != amount:
        raise rules.WithdrawalRequestReused()
    return existing


def _my_withdrawal(user: AppUser, withdrawal_id: int, *, lock: bool = False) -> Withdrawal:
    query = sa.select(Withdrawal).where(Withdrawal.id == withdrawal_id)
    withdrawal = db.session.scalar(query.with_for_update() if lock else query)
    if withdrawal is None or withdrawal.app_user_id != user.id:
        raise rules.WithdrawalNotFound()
    return withdrawal


def get_my_withdrawal(*, user: AppUser, withdrawal_id: int) -> Withdrawal:
    return _my_withdrawal(user, withdrawal_id)


def cancel_withdrawal(*, user: AppUser, withdrawal_id: int) -> Withdrawal:
    """The clerk takes back a withdrawal the payout queue hasn't paid: the cash returns to the balance."""
    withdrawal = _my_withdrawal(user, withdrawal_id, lock=True)
    if withdrawal.status is WithdrawalStatus.CANCELLED:
        return withdrawal
    if withdrawal.status is not WithdrawalStatus.REQUESTED:
        raise rules.WithdrawalNotCancellable()
    if withdrawal.payout_id is not None:  # only while no bill exists (pending/held); else 409
        payout = payouts.get_payout(withdrawal.payout_id, lock=True)
        if payout.status not in (PayoutStatus.PENDING, PayoutStatus.HELD):
            raise rules.WithdrawalNotCancellable()
        payout.status, payout.finished_at, payout.fail_reason = PayoutStatus.CANCELLED, utcnow(), "withdrawal cancelled"
        rollups.add_all(report_facts.payout_moved(payout, was_status=None, was_finished_at=None, region_code=None))
    withdrawal.status = WithdrawalStatus.CANCELLED
    withdrawal.updated_at = utcnow()
    credit(app_user_id=user.id, kind=RewardKind.CASH, amount=withdrawal.amount,
           source=f"withdrawal-cancel:{withdrawal.id}", note="Withdrawal cancelled")
    return withdrawal


def settle_withdrawal(*, payout_id: int, paid: bool) -> Withdrawal | None:
    """The payout queue settles a withdrawal (inside its transaction, through app/retail/handlers.py): paid, or
    failed with the cash back."""
    withdrawal = db.session.scalar(sa.select(Withdrawal).where(Withdrawal.payout_id == payout_id).with_for_update())
    if withdrawal is None or withdrawal.status is not WithdrawalStatus.REQUESTED:
        return withdrawal
    withdrawal.updated_at = utcnow()
    if paid:
        withdrawal.status = WithdrawalStatus.PAID
        return withdrawal
    withdrawal.status = WithdrawalStatus.FAILED
    credit(app_user_id=withdrawal.app_user_id, kind=RewardKind.CASH, amount=withdrawal.amount,
           source=f"withdrawal-return:{withdrawal.id}", note="Withdrawal not paid: returned")
    return withdrawal


def reclaim_withdrawal(*, payout_id: int) -> bool:
    """A withdrawal whose cash went back was paid after all (a late SUCCESS): it is paid, and its cash is
    taken from the balance again (source "withdrawal-reclaim:<id>", once). False when the balance no
    longer holds it: nothing is taken and the payout queue raises an incident with the amount."""
    withdrawal = db.session.scalar(sa.select(Withdrawal).where(Withdrawal.payout_id == payout_id).with_for_update())
    if withdrawal is None or withdrawal.status is WithdrawalStatus.PAID:
        return withdrawal is not None
    held = db.session.scalar(sa.select(RewardBalance.balance).where(
        RewardBalance.app_user_id == withdrawal.app_user_id, RewardBalance.kind == RewardKind.CASH).with_for_update())
    withdrawal.status, withdrawal.updated_at = WithdrawalStatus.PAID, utcnow()
    if (held or 0) < withdrawal.amount:
        return False
    debit(app_user_id=withdrawal.app_user_id, kind=RewardKind.CASH, amount=withdrawal.amount,
          source=f"withdrawal-reclaim:{withdrawal.id}", note="Withdrawal paid after all: taken back")
    return True


def list_withdrawals(*, app_user_id: int | None = None, status: str | None = None):
    query = sa.select(Withdrawal).order_by(Withdrawal.id.desc())
    if app_user_id is not None:
        query = query.where(Withdrawal.app_user_id == app_user_id)
    if status:
        query = query.where(Withdrawal.status == WithdrawalStatus(status))
    return query


# --- rankings ----------------------------------------------------------------------------------

@dataclass(slots=True)
class RankRow:
    rank: int
    id: int
    name: str
    sales: int
    points: int
    cash: int
    store_id: int | None = None


@dataclass(slots=True)
class Ranking:
    top: list[RankRow]
    me: RankRow | None


def region_prefix(region_code: str | None) -> str | None:
    """The adcode prefix every store inside this region shares (None: everywhere)."""
    if not region_code:
        return None
    region = db.session.get(Region, region_code)
    if region is None:
        raise rules.RegionUnknown()
    return region.code[:PREFIX_LENGTH[region.level]]


def _scans_in(since, until, prefix):
    conditions = []
    if since is not None:
        conditions.append(SaleScan.scanned_at >= since)
    if until is not None:
        conditions.append(SaleScan.scanned_at < until)
    if prefix:
        conditions.append(SaleScan.region_code.startswith(prefix, autoescape=True))
    return conditions


def _reward_sum(kind: RewardKind):
    return sa.func.coalesce(sa.func.sum(sa.case(
        (sa.and_(SaleScan.reward_kind == kind, SaleScan.withheld.is_(False)), SaleScan.reward_amount),
        else_=0)), 0)


def _ranking(key, *, since, until, region_code, top, mine, names) -> Ranking:
    if since is not None and until is not None and until <= since:
        raise rules.PeriodInvalid()
    conditions = _scans_in(since, until, region_prefix(region_code))
    sales = sa.func.count(SaleScan.id)
    grouped = (sa.select(key.label("k"), sales.label("sales"), _reward_sum(RewardKind.POINTS).label("points"),
                         _reward_sum(RewardKind.CASH).label("cash"))
               .where(*conditions).group_by(key))
    rows = db.session.execute(grouped.order_by(sales.desc(), key).limit(min(max(top, 1), RANKING_MAX))).all()
    counts = grouped.subquery()

    def rank_of(count: int) -> int:
        return 1 + db.session.scalar(sa.select(sa.func.count()).select_from(counts).where(counts.c.sales > count))

    label = names([r.k for r in rows] + ([mine] if mine is not None else []))
    ranked, previous, rank = [], None, 0
    for position, row in enumerate(rows, start=1):
        if row.sales != previous:
            rank, previous = position, row.sales
        ranked.append(_row(rank, row, label))
    me = None
    if mine is not None:
        own = db.session.execute(grouped.where(key == mine)).first()
        if own is not None:
            me = _row(rank_of(own.sales), own, label)
        else:
            me = _row(rank_of(0), None, label, key_value=mine)
    return Ranking(ranked, me)


def _row(rank, row, label, key_value=None) -> RankRow:
    k = row.k if row is not None else key_value
    name, store_id = label.get(k, ("", None))
    return RankRow(rank=rank, id=k, name=name, sales=row.sales if row else 0, points=row.points if row else 0,
                   cash=row.cash if row else 0, store_id=store_id)


def store_ranking(*, since=None, until=None, region_code=None, top: int = 10, my_store_id=None) -> Ranking:
    """Stores by sale scans in the period and region (most first), with my store's rank."""
    def names(ids):
        return {i: (n, i) for i, n in db.session.execute(sa.select(Store.id, Store.name).where(Store.id.in_(ids)))}
    return _ranking(SaleScan.store_id, since=since, until=until, region_code=region_code, top=top,
                    mine=my_store_id, names=names)


def clerk_ranking(*, since=None, until=None, region_code=None, top: int = 10, my_user_id=None) -> Ranking:
    """Clerks by sale scans in the period and region (most first), with my rank."""
    def names(ids):
        found = {i: (n, None) for i, n in db.session.execute(
            sa.select(AppUser.id, AppUser.nickname).where(AppUser.id.in_(ids)))}
        for user_id, store_id in db.session.execute(sa.select(StoreMembership.app_user_id, StoreMembership.store_id)
                                                    .where(StoreMembership.app_user_id.in_(ids),
                                                           StoreMembership.status == MembershipStatus.APPROVED)):
            found[user_id] = (found.get(user_id, ("", None))[0], store_id)
        return found
    return _ranking(SaleScan.app_user_id, since=since, until=until, region_code=region_code, top=top,
                    mine=my_user_id, names=names)


# --- store receipts (the DEALER helper's receipts, for a store) ---------------------------------

def pending_receipts(*, store_id: int):
    return receipts.pending_receipts(receiver_kind=PartyKind.STORE, receiver_id=store_id)


@dataclass(slots=True)
class ContentLine:
    product_id: int
    sku: str
    product_name: str
    lot_id: int | None
    items: int


@dataclass(slots=True)
class ShipmentContents:
    shipment: Shipment
    lines: list[ContentLine]
    scans: list[ShipmentScan]


def receivable(*, store_id: int, shipment_id: int) -> ShipmentContents:
    """A shipment to my store with what it should hold: items per product and lot, and the codes scanned."""
    shipment = receipts.get_receivable(receiver_kind=PartyKind.STORE, receiver_id=store_id, shipment_id=shipment_id)
    lines = [ContentLine(product_id, sku, name, lot_id, items) for product_id, sku, name, lot_id, items in
             db.session.execute(
                 sa.select(ShipmentUnit.product_id, Product.sku, Product.name, ShipmentUnit.lot_id,
                           sa.func.count(ShipmentUnit.id))
                 .join(Product, Product.id == ShipmentUnit.product_id)
                 .where(ShipmentUnit.shipment_id == shipment.id)
                 .group_by(ShipmentUnit.product_id, Product.sku, Product.name, ShipmentUnit.lot_id)
                 .order_by(ShipmentUnit.product_id, ShipmentUnit.lot_id))]
    scans = list(db.session.scalars(sa.select(ShipmentScan).where(
        ShipmentScan.shipment_id == shipment.id, ShipmentScan.undone_at.is_(None)).order_by(ShipmentScan.id)))
    return ShipmentContents(shipment, lines, scans)


def confirm_store_receipt(*, user: AppUser, store_id: int, shipment_id: int, codes: list[str] | None = None,
                          damaged: list[str] = (), note: str = ""):
    """My store confirms a shipment (whole, or the codes scanned in)."""
    receipt = receipts.confirm_receipt(actor_label=actor_label(user), receiver_kind=PartyKind.STORE,
                                       receiver_id=store_id, shipment_id=shipment_id, codes=codes,
                                       damaged=damaged, note=note)
    found = receipts.discrepancies(shipment_id=shipment_id)
    return receipt, list(db.session.scalars(found) if isinstance(found, sa.Select) else found)

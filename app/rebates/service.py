"""Rebates (返利): rules per dealer tier, product and period, and statements computed from verified flows.

Only verified flows count:

- CASE_TO_STORE: items a dealer shipped to stores that the store's receipt found (ShipmentUnit.received
  true), on the day of the receipt's confirmation; per rule and product, whole cases (items //
  units_per_case, rounded down over the window) × the rule's amount.
- UNIT_SOLD: items sale-scanned at a store on the day of the scan, that this dealer shipped (in a
  shipment that left it); × the rule's amount.

A rule applies to the statement's dealer when its tier matches (None: any) and it is active; it pays the
flows whose day is inside both its dates and the statement's period. Rules stack: two rules matching
the same flows each pay their own line. Days are China Standard Time (UTC+8): a receipt confirmed at
23:30 in Beijing belongs to that day, whatever UTC says.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.channel.models import PartyKind, Receipt, Shipment, ShipmentStatus, ShipmentUnit
from app.db import certify_lock, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope, OutsideDataScope, scope_of
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import refs
from app.masterdata.scope_ids import dealer_ids_in, dealer_in
from app.masterdata.models import Dealer, Product, Status
from app.platform.clock import day_start
from app.platform.filters import Filters
from app.rebates.models import RebateBasis, RebateLine, RebateRule, RebateStatement, StatementStatus
from app.retail.models import SaleScan
from app.webhooks.service import emit

MAX_TIER = 99  # a channel is a handful of tiers deep; the column is a plain integer
RULE_FIELDS = ("name", "tier", "product_id", "basis", "amount_fen", "starts_on", "ends_on", "status")


class RuleNotFound(NotFound):
    code = "rebate_rule_not_found"
    message = "No such rebate rule."


class RuleInvalid(ValidationFailed):
    code = "rebate_rule_invalid"
    message = "The rebate rule is not valid."


class StatementNotFound(NotFound):
    code = "rebate_statement_not_found"
    message = "No such rebate statement."


class StatementPeriodOverlaps(Conflict):
    code = "statement_period_overlaps"
    message = "Another statement of this dealer covers part of this period: its flows would be paid twice."


class StatementApproved(Conflict):
    code = "statement_approved"
    message = "This statement is approved: it is frozen and cannot be recomputed or approved again."


class PeriodInvalid(ValidationFailed):
    code = "period_invalid"
    message = "The period ends before it starts."


class DealerNotFound(NotFound):
    code = "dealer_not_found"
    message = "No such dealer."


# --- rules --------------------------------------------------------------------------------------

def _rule_values(data: dict, rule: RebateRule | None) -> dict:
    values = {name: data[name] for name in RULE_FIELDS if name in data}
    for name in ("basis",):
        if name in values:
            values[name] = RebateBasis(values[name])
    if "status" in values:
        values["status"] = Status(values["status"])
    merged = {name: values.get(name, getattr(rule, name, None)) for name in RULE_FIELDS}
    errors = {}
    if not (merged["name"] or "").strip():
        errors["name"] = ["Required."]
    if merged["basis"] is None:
        errors["basis"] = ["Required."]
    if merged["amount_fen"] is None or merged["amount_fen"] <= 0:
        errors["amount_fen"] = ["Must be more than 0."]
    if merged["tier"] is not None and not 1 <= merged["tier"] <= MAX_TIER:
        errors["tier"] = [f"1 to {MAX_TIER} (or none: every tier)."]
    if merged["starts_on"] is None:
        errors["starts_on"] = ["Required."]
    if merged["ends_on"] is None:
        errors["ends_on"] = ["Required."]
    elif merged["starts_on"] is not None and merged["ends_on"] < merged["starts_on"]:
        errors["ends_on"] = ["Must not be before starts_on."]
    if merged["product_id"] is not None and db.session.get(Product, merged["product_id"]) is None:
        errors["product_id"] = ["No such product."]
    if errors:
        raise RuleInvalid(errors=errors)
    if "name" in values:
        values["name"] = values["name"].strip()
    return values


def create_rule(*, actor: Actor, data: dict) -> RebateRule:
    """A new rebate rule (amount > 0, ends on or after it starts, an existing product or none)."""
    rule = RebateRule(**{"status": Status.ACTIVE, **_rule_values(data, None)})
    db.session.add(rule)
    db.session.flush()
    audit(actor, "rebate_rule.create", rule, {name: [None, getattr(rule, name)] for name in RULE_FIELDS})
    return rule


def get_rule(rule_id: int) -> RebateRule:
    rule = db.session.get(RebateRule, rule_id)
    if rule is None:
        raise RuleNotFound()
    return rule


def update_rule(*, actor: Actor, rule_id: int, changes: dict) -> RebateRule:
    """Change a rule (statements already approved keep the figures they froze)."""
    rule = db.session.scalar(sa.select(RebateRule).where(RebateRule.id == rule_id).with_for_update())
    if rule is None:
        raise RuleNotFound()
    changed = apply_changes(rule, _rule_values(changes, rule))
    if changed:
        audit(actor, "rebate_rule.update", rule, changed)
    return rule


_RULE_FILTERS = Filters(
    status=lambda value: RebateRule.status == Status(value),
    product_id=lambda value: RebateRule.product_id == value,
    tier=lambda value: RebateRule.tier == value,
    basis=lambda value: RebateRule.basis == RebateBasis(value),
)


def list_rules(*, status=None, product_id=None, tier=None, basis=None):
    """Rebate rules, newest first, narrowed by the filters given."""
    return _RULE_FILTERS.apply(sa.select(RebateRule).order_by(RebateRule.id.desc()), status=status,
                               product_id=product_id, tier=tier, basis=basis)


# --- flows --------------------------------------------------------------------------------------

def _shipped_by(dealer_id: int):
    return sa.and_(Shipment.shipper_kind == PartyKind.DEALER, Shipment.shipper_id == dealer_id)


def cases_to_stores(*, dealer_id: int, first_day: date, last_day: date, product_id: int | None) -> dict[int, int]:
    """product -> whole cases of this dealer's items that stores received between the days (inclusive)."""
    query = (sa.select(ShipmentUnit.product_id, sa.func.count(), Product.units_per_case)
             .join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
             .join(Receipt, Receipt.shipment_id == Shipment.id)
             .join(Product, Product.id == ShipmentUnit.product_id)
             .where(_shipped_by(dealer_id), Shipment.receiver_kind == PartyKind.STORE,
                    ShipmentUnit.received.is_(True),
                    Receipt.confirmed_at >= day_start(first_day),
                    Receipt.confirmed_at < day_start(last_day + timedelta(days=1)))
             .group_by(ShipmentUnit.product_id, Product.units_per_case))
    if product_id is not None:
        query = query.where(ShipmentUnit.product_id == product_id)
    return {product: items // per_case for product, items, per_case in db.session.execute(query)}


def units_sold(*, dealer_id: int, first_day: date, last_day: date, product_id: int | None) -> dict[int, int]:
    """product -> items this dealer shipped that a store sale-scanned between the days (inclusive)."""
    shipped_by_dealer = (sa.select(ShipmentUnit.id)
                         .join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
                         .where(ShipmentUnit.serial == SaleScan.serial, _shipped_by(dealer_id),
                                Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED))))
    query = (sa.select(SaleScan.product_id, sa.func.count())
             .where(SaleScan.scanned_at >= day_start(first_day),
                    SaleScan.scanned_at < day_start(last_day + timedelta(days=1)),
                    shipped_by_dealer.exists())
             .group_by(SaleScan.product_id))
    if product_id is not None:
        query = query.where(SaleScan.product_id == product_id)
    return dict(db.session.execute(query).all())


_FLOWS = {RebateBasis.CASE_TO_STORE: cases_to_stores, RebateBasis.UNIT_SOLD: units_sold}


def _lines(dealer: Dealer, period_start: date, period_end: date) -> list[RebateLine]:
    rules = db.session.scalars(
        sa.select(RebateRule).where(RebateRule.status == Status.ACTIVE,
                                    sa.or_(RebateRule.tier.is_(None), RebateRule.tier == dealer.tier),
                                    RebateRule.starts_on <= period_end, RebateRule.ends_on >= period_start)
        .order_by(RebateRule.id)).all()
    lines = []
    for rule in rules:
        flows = _FLOWS[rule.basis](dealer_id=dealer.id, first_day=max(rule.starts_on, period_start),
                                   last_day=min(rule.ends_on, period_end), product_id=rule.product_id)
        for product_id in sorted(flows):
            quantity = flows[product_id]
            if quantity > 0:
                lines.append(RebateLine(rule_id=rule.id, product_id=product_id, basis=rule.basis,
                                        quantity=quantity, amount_fen=quantity * rule.amount_fen))
    return lines


# --- statements ---------------------------------------------------------------------------------

def _dealer_for_update(dealer_id: int) -> Dealer:
    dealer = db.session.scalar(sa.select(Dealer).where(Dealer.id == dealer_id).with_for_update())
    if dealer is None:
        raise DealerNotFound()
    return dealer


def _statement_for_update(dealer_id: int, period_start: date, period_end: date) -> RebateStatement:
    """The dealer's statement of the period, locked; created (as a draft) if there is none yet.

    The caller holds the dealer's row lock, so two computations of one dealer run one after the other
    (locking a statement row that doesn't exist yet would take gap locks, and two inserts would deadlock).
    """
    statement = db.session.scalar(
        sa.select(RebateStatement).where(RebateStatement.dealer_id == dealer_id,
                                         RebateStatement.period_start == period_start,
                                         RebateStatement.period_end == period_end).with_for_update())
    if statement is None:
        statement = RebateStatement(dealer_id=dealer_id, period_start=period_start, period_end=period_end,
                                    status=StatementStatus.DRAFT, total_fen=0)
        db.session.add(statement)
    return statement


def compute_statement(*, actor: Actor, dealer_id: int, period_start: date, period_end: date) -> RebateStatement:
    """Compute (or recompute) the dealer's draft statement of a period; an approved one is frozen (409)."""
    if period_end < period_start:
        raise PeriodInvalid(errors={"period_end": ["Must not be before period_start."]})
    require_dealer_in_scope(actor, dealer_id)
    dealer = _dealer_for_update(dealer_id)
    # Periods never overlap (checked under the dealer's lock, by a locking read: the latest statements, not
    # the transaction's snapshot): each flow is paid by one statement.
    overlapping = db.session.scalar(sa.select(RebateStatement.id).where(
        RebateStatement.dealer_id == dealer_id, RebateStatement.period_start <= period_end,
        RebateStatement.period_end >= period_start,
        sa.not_(sa.and_(RebateStatement.period_start == period_start, RebateStatement.period_end == period_end)))
        .limit(1).with_for_update(read=True))
    if overlapping is not None:
        raise StatementPeriodOverlaps(errors={"statement_id": [overlapping]})
    certify_lock(dealer)  # a twin computing an overlapping period on another Galera node conflicts at COMMIT
    statement = _statement_for_update(dealer_id, period_start, period_end)
    if statement.status is StatementStatus.APPROVED:
        raise StatementApproved()
    before = statement.total_fen
    statement.lines.clear()
    db.session.flush()
    statement.lines.extend(_lines(dealer, period_start, period_end))
    statement.total_fen = sum(line.amount_fen for line in statement.lines)
    statement.computed_at = utcnow()
    db.session.flush()
    audit(actor, "rebate_statement.compute", statement, {"total_fen": [before, statement.total_fen]})
    return statement


def require_dealer_in_scope(actor: Actor, dealer_id: int) -> None:
    """A statement is written (computed, approved) only by users whose data scope holds its dealer (403)."""
    if not dealer_in(scope_of(actor), dealer_id):
        raise OutsideDataScope()


def get_statement(statement_id: int, *, dealer_id: int | None = None,
                  status: StatementStatus | None = None, lock: bool = False,
                  scope: DataScope = NATIONAL) -> RebateStatement:
    """A statement; with dealer_id (and status), only that dealer's (in that status), else 404 (also
    outside the data scope)."""
    statement = db.session.get(RebateStatement, statement_id, populate_existing=lock, with_for_update=lock)
    if statement is None or (dealer_id is not None and statement.dealer_id != dealer_id) \
            or (status is not None and statement.status is not status) or not dealer_in(scope, statement.dealer_id):
        raise StatementNotFound()
    return statement


_STATEMENT_FILTERS = Filters(
    dealer_id=lambda value: RebateStatement.dealer_id == value,
    status=lambda value: RebateStatement.status == StatementStatus(value),
    period_from=lambda value: RebateStatement.period_end >= value,
    period_to=lambda value: RebateStatement.period_start <= value,
)


def list_statements(*, dealer_id=None, status=None, period_from: date | None = None, period_to: date | None = None,
                    scope: DataScope = NATIONAL):
    """Statements, newest period first; period_from/period_to keep those overlapping those days."""
    query = sa.select(RebateStatement).order_by(RebateStatement.period_start.desc(), RebateStatement.id.desc())
    if not scope.national:
        query = query.where(RebateStatement.dealer_id.in_(dealer_ids_in(scope)))
    return _STATEMENT_FILTERS.apply(query, dealer_id=dealer_id, status=status, period_from=period_from,
                                    period_to=period_to)


def approve_statement(*, actor: Actor, statement_id: int) -> RebateStatement:
    """Approve a draft: its figures are frozen from now on; audited."""
    statement = db.session.scalar(sa.select(RebateStatement).where(RebateStatement.id == statement_id)
                                  .with_for_update())
    if statement is None:
        raise StatementNotFound()
    require_dealer_in_scope(actor, statement.dealer_id)
    if statement.status is StatementStatus.APPROVED:
        raise StatementApproved()
    statement.status, statement.approved_by, statement.approved_at = StatementStatus.APPROVED, actor.name, utcnow()
    audit(actor, "rebate_statement.approve", statement,
          {"status": [StatementStatus.DRAFT, StatementStatus.APPROVED], "total_fen": [None, statement.total_fen]})
    products = refs.products(line.product_id for line in statement.lines)
    emit("rebate_statement.approved", {
        "statement_id": statement.id, "dealer": refs.party("dealer", statement.dealer_id),
        "period_start": statement.period_start.isoformat(), "period_end": statement.period_end.isoformat(),
        "total_fen": statement.total_fen,
        "lines": [{"rule_id": line.rule_id, "product": products[line.product_id], "basis": line.basis.value,
                   "quantity": line.quantity, "amount_fen": line.amount_fen} for line in statement.lines],
        "approved_by": statement.approved_by, "approved_at": statement.approved_at.isoformat()})
    return statement

"""Reward rules for sale scans (back office), and the rule a sale earns: per product and region (or
any), within a period."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata.models import Product, Region, Status
from app.retail.errors import RewardRuleInvalid, RewardRuleNotFound
from app.retail.models import RewardKind, RewardRule

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
        raise RewardRuleInvalid(errors=errors)


def _apply_rule(rule: RewardRule, values: dict) -> dict:
    """Set the rule's fields given in values; {field: [old, new]} of those that changed."""
    enums = {"kind": RewardKind, "status": Status}
    return apply_changes(rule, {
        name: enums[name](values[name]) if name in enums and values[name] is not None else values[name]
        for name in RULE_FIELDS if name in values})


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
        raise RewardRuleNotFound()
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

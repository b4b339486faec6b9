"""Rebates: rules, and statements computed from verified flows only (received by stores, or sold)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app.channel.models import PartyKind
from app.db import transaction
from app.extensions import db
from app.identity.models import AuditRecord
from app.rebates import service
from app.rebates.models import RebateBasis, StatementStatus
from tests.concurrency import at_once, meeting_in, results_and_errors
from tests.masterdata_factories import ACTOR, make_dealer
from tests.rebate_factories import MARCH, at, make_rule, shipment_to_store, sold


def compute(dealer_id, period=MARCH):
    with transaction():
        return service.compute_statement(actor=ACTOR, dealer_id=dealer_id, period_start=period[0],
                                         period_end=period[1])


def test_the_worked_example_pays_1700_fen(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    # Received by stores in March: 12 + 8 items found (20 items = 3 whole cases of 6, the 2 left over
    # don't make a case); the 4 missing from the second receipt don't count.
    first = shipment_to_store(dealer.id, store.id, product.id, received=12)
    shipment_to_store(dealer.id, store.id, product.id, received=8, missing=4, confirmed_at=at(15))
    # 10 of the dealer's items sale-scanned in March.
    sold(first[:10], store.id, product.id)
    # Not counted: a receipt in April, a shipment never confirmed, another dealer's goods, the brand's own
    # shipment to a store, a sale in February.
    shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=at(1, month=4))
    unconfirmed = shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=None)
    other = make_dealer()
    other_goods = shipment_to_store(other.id, store.id, product.id, received=6)
    sold(other_goods, store.id, product.id)
    shipment_to_store(dealer.id, store.id, product.id, received=6, shipper_kind=PartyKind.WAREHOUSE)
    sold(unconfirmed[:2], store.id, product.id, scanned_at=at(28, month=2))

    statement = compute(dealer.id)

    lines = {(line.basis, line.product_id): (line.quantity, line.amount_fen) for line in statement.lines}
    assert lines == {(RebateBasis.CASE_TO_STORE, product.id): (3, 1500),
                     (RebateBasis.UNIT_SOLD, product.id): (10, 200)}
    assert statement.total_fen == 1700
    assert statement.status is StatementStatus.DRAFT


def test_sold_items_count_even_when_the_store_never_confirmed_the_receipt(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    unconfirmed = shipment_to_store(dealer.id, store.id, product.id, received=3, confirmed_at=None)
    sold(unconfirmed, store.id, product.id)

    assert compute(dealer.id).total_fen == 3 * 20


def test_business_days_are_china_time(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    # 31 March 17:00 UTC is 1 April 01:00 in Beijing: outside March.
    shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=at(31, hour=17))
    # 28 February 16:30 UTC is 1 March 00:30 in Beijing: inside.
    shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=datetime(2026, 2, 28, 16, 30,
                                                                                         tzinfo=timezone.utc))
    assert compute(dealer.id).total_fen == 500


def test_rules_pay_only_flows_inside_their_own_dates_and_their_tier(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    make_rule(basis="case_to_store", amount_fen=1000, starts_on=date(2026, 3, 12), ends_on=date(2026, 4, 30))
    make_rule(basis="case_to_store", amount_fen=7000, tier=2)  # tier-2 dealers only
    shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=at(10))  # before the 12th
    shipment_to_store(dealer.id, store.id, product.id, received=6, confirmed_at=at(20))

    statement = compute(dealer.id)

    # The March rule pays both cases (2 × 500), the rule from the 12th only the second (1 × 1000).
    assert sorted((line.quantity, line.amount_fen) for line in statement.lines) == [(1, 1000), (2, 1000)]
    assert statement.total_fen == 2000


def test_recomputing_a_draft_gives_the_same_figures_and_picks_up_new_flows(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=12)
    first = compute(dealer.id)
    first_id, first_lines = first.id, [(ln.rule_id, ln.quantity, ln.amount_fen) for ln in first.lines]

    again = compute(dealer.id)
    assert again.id == first_id
    assert [(ln.rule_id, ln.quantity, ln.amount_fen) for ln in again.lines] == first_lines
    assert again.total_fen == 1000

    shipment_to_store(dealer.id, store.id, product.id, received=6)
    assert compute(dealer.id).total_fen == 1500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(service.RebateLine)) == 1


def test_an_approved_statement_is_frozen(rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=6)
    statement_id = compute(dealer.id).id

    with transaction():
        approved = service.approve_statement(actor=ACTOR, statement_id=statement_id)
    assert approved.status is StatementStatus.APPROVED and approved.approved_by == ACTOR.name
    shipment_to_store(dealer.id, store.id, product.id, received=6)

    with pytest.raises(service.StatementApproved), transaction():
        compute(dealer.id)
    with pytest.raises(service.StatementApproved), transaction():
        service.approve_statement(actor=ACTOR, statement_id=statement_id)
    db.session.expire_all()
    assert service.get_statement(statement_id).total_fen == 500
    actions = db.session.scalars(sa.select(AuditRecord.action).where(
        AuditRecord.entity_type == "rebate_statements").order_by(AuditRecord.id)).all()
    assert actions == ["rebate_statement.compute", "rebate_statement.approve"]


def test_rules_are_validated(rebate_world):
    bad = {"amount_fen": 0, "ends_on": date(2026, 2, 1), "product_id": 999_999, "tier": 0}
    with pytest.raises(service.RuleInvalid) as caught, transaction():
        service.create_rule(actor=ACTOR, data={"name": "Bad", "basis": "unit_sold", "starts_on": MARCH[0], **bad})
    assert set(caught.value.errors) == set(bad)

    rule = make_rule(basis="unit_sold", amount_fen=5)
    with pytest.raises(service.RuleInvalid), transaction():
        service.update_rule(actor=ACTOR, rule_id=rule.id, changes={"ends_on": date(2026, 1, 1)})
    with transaction():
        service.update_rule(actor=ACTOR, rule_id=rule.id, changes={"amount_fen": 8, "status": "inactive"})
    assert service.get_rule(rule.id).amount_fen == 8


def test_a_statement_needs_a_dealer_and_a_period_in_order(rebate_world):
    with pytest.raises(service.DealerNotFound), transaction():
        compute(999_999)
    with pytest.raises(service.PeriodInvalid), transaction():
        compute(rebate_world["dealer"].id, period=(date(2026, 3, 2), date(2026, 3, 1)))


def test_two_computations_of_one_statement_at_once_make_one_statement(app, mariadb, rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=6)

    def run():
        return compute(dealer.id).total_fen

    with meeting_in(service, "_dealer_for_update"):
        totals, errors = results_and_errors(at_once(app, run, run))
    assert errors == [None, None], errors
    assert totals == [500, 500]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(service.RebateStatement)) == 1


def test_two_overlapping_periods_computed_at_once_make_one_statement(app, mariadb, rebate_world):
    # Each flow is paid by one statement: of two overlapping periods computed together (on a Galera
    # cluster, on two nodes), one is refused, whichever loses.
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=6)

    def march():
        return compute(dealer.id)

    def mid_march_to_mid_april():
        return compute(dealer.id, period=(date(2026, 3, 15), date(2026, 4, 14)))

    with meeting_in(service, "_dealer_for_update"):
        made, errors = results_and_errors(at_once(app, march, mid_march_to_mid_april))
    assert sorted(type(error).__name__ for error in errors if error) == ["StatementPeriodOverlaps"], errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(service.RebateStatement)) == 1

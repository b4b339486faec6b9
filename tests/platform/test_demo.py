import sqlalchemy as sa

from app import demo
from app.codes import service as codes
from app.codes.models import CodeBatch
from app.extensions import db
from app.identity.models import AdminUser
from app.masterdata.models import Dealer, Factory, Product, Store, Warehouse
from app.payouts.models import Payout, PayoutNotification, PayoutStatus
from app.units.models import Event, Unit
from app.stock.models import HolderKind, StockPosition


def _counts(*models):
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in models}


def _seeded_once() -> dict:
    """What seeding makes once: master data, back-office users, the first shift's units and events."""
    first_lot = demo.DEMO_LOT["external_id"]
    from app.production.models import ProductionLot

    lot_id = db.session.scalar(sa.select(ProductionLot.id).where(ProductionLot.external_id == first_lot))
    units = db.session.scalar(sa.select(sa.func.count()).select_from(Unit).where(Unit.lot_id == lot_id))
    return {**_counts(Product, Dealer, Store, Factory, Warehouse, AdminUser), "first shift units": units}


def _stock():
    quantity = sa.func.sum(StockPosition.quantity)
    return [tuple(row) for row in db.session.execute(
        sa.select(StockPosition.holder_id, StockPosition.lot_id, quantity)
        .where(StockPosition.holder_kind == HolderKind.WAREHOUSE, StockPosition.quantity > 0)
        .group_by(StockPosition.holder_id, StockPosition.lot_id).order_by(StockPosition.holder_id, StockPosition.lot_id))]


def test_the_demo_seeds_a_brand_with_two_tiers_in_two_provinces(app, auth, sandbox):
    result = demo.seed()
    # 1,000 items packed 24 to a case into 42 cases (the last one partial), on one pallet; the chain's
    # play: 24 more items in one case, from two batches of its own.
    assert _counts(Product, Dealer, Store, CodeBatch, Unit) == {
        "Product": 3, "Dealer": 4, "Store": 4, "CodeBatch": 3 + 2, "Unit": 1_043 + 25}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.lot_id == result["lot"].id)) == 1_000 + 1_000 + 42 + 1
    tiers = db.session.execute(sa.select(Dealer.name, Dealer.tier)).all()
    assert sorted(tier for _, tier in tiers) == [1, 1, 2, 2]
    assert codes.resolve_code(result["sample_code"]).status == "issued"
    # The chain's case went through the warehouse and on: only the first shift is in stock.
    assert _stock() == [(result["warehouse"].id, result["lot"].id, 1_000)]
    for username in result["users"]:
        assert auth.login(username, result["password"]).status_code == 200


def test_the_demo_plays_the_whole_chain_and_pays_the_prize(app, sandbox):
    chain = demo.seed()["chain"]
    facts = chain.facts
    assert chain.play == 1
    assert facts["verdicts"] == {"A": "genuine", "B": "scanned_before", "C": "forged"}
    # Every draw wins one of the two prizes; consumers claim until both were won (cash at 70 %).
    draws = facts["draws"]
    assert {d["outcome"] for d in draws} == {"won"}
    cash = [d for d in draws if d["prize"]["kind"] == "cash"]
    assert cash and all(d["payout_id"] and d["prize"]["amount"] == 88 for d in cash)
    assert facts["payouts"] == {d["payout_id"]: "succeeded" for d in cash}
    assert facts["campaign_spent_fen"] == 88 * len(cash)
    # WeChat Pay's callback, not a query, brought each payout to succeeded, once.
    assert db.session.scalars(sa.select(Payout.status)).all() == [PayoutStatus.SUCCEEDED] * len(cash)
    assert _counts(PayoutNotification) == {"PayoutNotification": len(cash)}
    # The summary says it: one line per step with its figure.
    text = "\n".join(chain.lines)
    assert "shipped     24 items from 杭州成品仓 to 浙江省总代理 (tier 1)" in text
    assert "received    24 items at 西湖便利店 (clerk mini-program)" in text
    assert "consumer B  scanned the same bottle: scanned_before" in text
    assert "consumer C  scanned a made-up code: forged" in text
    first = f"payout {cash[0]['payout_id']} succeeded"
    assert first in text
    summary = demo.demo_chain.summary(chain, "http://127.0.0.1:8000")
    assert f"http://127.0.0.1:8000/api/admin/payouts/{cash[0]['payout_id']}" in summary


def test_seeding_twice_plays_the_chain_again_with_fresh_codes_and_changes_nothing_else(app, sandbox):
    first = demo.seed()
    before, stock = _seeded_once(), _stock()
    second = demo.seed()
    assert _seeded_once() == before and _stock() == stock
    assert first["batch"].id == second["batch"].id
    one, two = first["chain"], second["chain"]
    assert (one.play, two.play) == (1, 2)
    assert set(one.facts["sold"]).isdisjoint(two.facts["sold"]) and one.facts["lot_id"] != two.facts["lot_id"]
    assert two.facts["verdicts"] == {"A": "genuine", "B": "scanned_before", "C": "forged"}
    assert set(two.facts["payouts"].values()) == {"succeeded"}
    # The first play's payouts are as it left them.
    paid = db.session.scalars(sa.select(Payout.status).where(Payout.id.in_(one.facts["payouts"]))).all()
    assert paid == [PayoutStatus.SUCCEEDED] * len(one.facts["payouts"])


def test_the_demo_password_is_made_for_this_database_kept_private_and_printed_again(
        app, auth, sandbox, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    first = demo.seed()
    assert first["new_password"] and len(first["password"]) >= 16
    kept = tmp_path / demo.PASSWORDS_FILE
    assert oct(kept.stat().st_mode & 0o777) == "0o600" and first["password"] in kept.read_text()
    assert auth.login("demo-admin", first["password"]).status_code == 200
    # Another seed, and the command, know the same password; stored hashed like any user's.
    second = demo.seed()
    assert (second["password"], second["new_password"]) == (first["password"], False)
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.username == "demo-admin"))
    assert first["password"] not in user.password_hash
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "password"]).output.strip() == first["password"]
    # A reset gives every demo user a new one; the old one stops working.
    reset = runner.invoke(args=["demo", "password", "--reset"]).output.strip()
    assert reset != first["password"]
    assert auth.login("demo-marketer", first["password"]).status_code == 401
    assert auth.login("demo-marketer", reset).status_code == 200


def test_under_dual_control_the_demo_admin_approves_what_the_chain_asks(app, sandbox, monkeypatch):
    from app.approvals.models import ApprovalRequest, ApprovalStatus

    # As in development and production: packs of hidden codes, and here every cash campaign, need a second person.
    monkeypatch.setitem(app.config, "DUAL_CONTROL_CODE_PACK_HIDDEN", True)
    monkeypatch.setitem(app.config, "DUAL_CONTROL_CAMPAIGN_BUDGET_FEN", 0)
    chain = demo.seed()["chain"]
    assert set(chain.facts["payouts"].values()) == {"succeeded"}
    requests = db.session.execute(sa.select(ApprovalRequest.kind, ApprovalRequest.status, ApprovalRequest.requested_by,
                                            ApprovalRequest.decided_by)).all()
    assert sorted(requests) == [("campaign.activate", ApprovalStatus.EXECUTED, "demo-marketer", "demo-admin"),
                                ("code_pack.download", ApprovalStatus.EXECUTED, "demo-ops", "demo-admin")]
    assert "approved    by a second person (dual control): code_pack.download, campaign.activate" in chain.lines

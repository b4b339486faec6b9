import sqlalchemy as sa

from app import demo
from app.codes import service as codes
from app.codes.models import CodeBatch
from app.extensions import db
from app.masterdata.models import Dealer, Product, Store
from app.units.models import Event, Unit
from app.warehouse.models import Stock


def _counts():
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Product, Dealer, Store, CodeBatch, Unit, Event)}


def test_the_demo_seeds_a_brand_with_two_tiers_in_two_provinces(app, auth):
    result = demo.seed()
    # 1,000 items packed 24 to a case into 42 cases (the last one partial), on one pallet.
    assert _counts() == {"Product": 3, "Dealer": 4, "Store": 4, "CodeBatch": 3, "Unit": 1_043,
                         "Event": 1_000 + 1_000 + 42 + 1}
    tiers = db.session.execute(sa.select(Dealer.name, Dealer.tier)).all()
    assert sorted(tier for _, tier in tiers) == [1, 1, 2, 2]
    assert codes.resolve_code(result["sample_code"]).status == "issued"
    assert db.session.execute(sa.select(Stock.warehouse_id, Stock.lot_id, Stock.quantity)).all() == [
        (result["warehouse"].id, result["lot"].id, 1_000)]
    for username in result["users"]:
        assert auth.login(username, result["password"]).status_code == 200


def test_seeding_twice_changes_nothing(app):
    demo.seed()
    before = _counts()
    demo.seed()
    assert _counts() == before

import sqlalchemy as sa

from app import demo
from app.codes import service as codes
from app.codes.models import CodeBatch
from app.extensions import db
from app.masterdata.models import Dealer, Product, Store


def _counts():
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Product, Dealer, Store, CodeBatch)}


def test_the_demo_seeds_a_brand_with_two_tiers_in_two_provinces(app, auth):
    result = demo.seed()
    assert _counts() == {"Product": 3, "Dealer": 4, "Store": 4, "CodeBatch": 1}
    tiers = db.session.execute(sa.select(Dealer.name, Dealer.tier)).all()
    assert sorted(tier for _, tier in tiers) == [1, 1, 2, 2]
    assert codes.resolve_code(result["sample_code"]).status == "issued"
    for username in result["users"]:
        assert auth.login(username, result["password"]).status_code == 200


def test_seeding_twice_changes_nothing(app):
    demo.seed()
    before = _counts()
    demo.seed()
    assert _counts() == before

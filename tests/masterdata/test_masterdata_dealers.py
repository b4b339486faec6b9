import pytest
import sqlalchemy as sa

from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import dealers, stores
from tests.masterdata_factories import ACTOR, BEIJING, DONGCHENG, HANGZHOU, XIHU, ZHEJIANG, make_dealer


def _refused(fn, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        with transaction():
            fn(actor=ACTOR, **kwargs)
    return caught.value


def _move(dealer, parent):
    with transaction():
        return dealers.update_dealer(actor=ACTOR, dealer_id=dealer.id,
                                     changes={"parent_id": parent.id if parent else None})


def test_a_dealers_tier_follows_its_parent(app):
    province = make_dealer()
    city = make_dealer(parent_id=province.id)
    assert (province.tier, city.tier) == (1, 2)
    error = _refused(dealers.create_dealer, data={"name": "x", "parent_id": city.id, "tier": 2})
    assert (error.status, error.code) == (422, "dealer_tier_mismatch")
    assert _refused(dealers.create_dealer, data={"name": "x", "tier": 2}).code == "dealer_tier_mismatch"
    assert make_dealer(parent_id=city.id, tier=3).tier == 3


def test_a_dealer_cannot_become_its_own_ancestor(app):
    top = make_dealer()
    middle = make_dealer(parent_id=top.id)
    bottom = make_dealer(parent_id=middle.id)
    for parent in (bottom, middle, top):
        with pytest.raises(DomainError) as caught:
            _move(top, parent)
        assert (caught.value.status, caught.value.code) == (422, "dealer_parent_cycle")
    db.session.refresh(top)
    assert top.parent_id is None


def test_an_unknown_parent_is_refused(app):
    error = _refused(dealers.create_dealer, data={"name": "x", "parent_id": 12345})
    assert (error.status, error.code) == (422, "dealer_parent_unknown")


def test_moving_a_dealer_re_tiers_its_sub_dealers_and_audits_them(app):
    a, b = make_dealer(), make_dealer()
    child = make_dealer(parent_id=b.id)
    grandchild = make_dealer(parent_id=child.id)
    _move(b, a)
    assert [d.tier for d in (b, child, grandchild)] == [2, 3, 4]
    changes = db.session.scalars(sa.select(AuditRecord.changes).where(
        AuditRecord.action == "dealer.update").order_by(AuditRecord.id)).all()
    assert changes == [{"parent_id": [None, a.id], "tier": [1, 2]}, {"tier": [2, 3]}, {"tier": [3, 4]}]
    _move(b, None)
    assert [d.tier for d in (b, child, grandchild)] == [1, 2, 3]


def test_a_territory_is_a_set_of_known_regions_of_any_level(app):
    dealer = make_dealer(territory=[ZHEJIANG, DONGCHENG, DONGCHENG])
    assert sorted(r.code for r in dealer.territory) == [DONGCHENG, ZHEJIANG]
    error = _refused(dealers.update_dealer, dealer_id=dealer.id, changes={"territory": [BEIJING, "999999000000"]})
    assert (error.status, error.code) == (422, "region_unknown")
    assert error.errors == {"territory": ["999999000000"]}
    with transaction():
        dealers.update_dealer(actor=ACTOR, dealer_id=dealer.id, changes={"territory": [BEIJING]})
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "dealer.update")).one()
    assert record.changes == {"territory": [[DONGCHENG, ZHEJIANG], [BEIJING]]}


def test_dealers_are_found_by_a_region_their_territory_covers(app):
    zhejiang = make_dealer(territory=[ZHEJIANG])
    hangzhou = make_dealer(territory=[HANGZHOU])
    make_dealer(territory=[BEIJING])
    found = db.session.scalars(dealers.list_dealers(region_code=XIHU)).all()
    assert [d.id for d in found] == [zhejiang.id, hangzhou.id]
    assert [d.id for d in db.session.scalars(dealers.list_dealers(region_code=ZHEJIANG))] == [zhejiang.id]


def test_contacts_are_kept_as_given(app):
    dealer = make_dealer(contacts=[{"name": "王伟", "phone": "13800000000", "title": "经理"}])
    assert dealer.contacts == [{"name": "王伟", "phone": "13800000000", "title": "经理"}]


def test_a_deactivated_dealer_takes_no_new_sub_dealers_or_stores(app):
    parent = make_dealer()
    with transaction():
        dealers.deactivate_dealer(actor=ACTOR, dealer_id=parent.id)
    with pytest.raises(DomainError) as error, transaction():
        dealers.create_dealer(actor=ACTOR, data={"name": "Sub", "parent_id": parent.id})
    assert error.value.code == "dealer_inactive"
    with pytest.raises(DomainError) as error, transaction():
        stores.create_store(actor=ACTOR, data={"name": "Shop", "region_code": XIHU, "dealer_ids": [parent.id]})
    assert error.value.code == "dealer_inactive"


def test_a_dealer_keeps_its_links_when_its_parent_is_deactivated_later(app):
    parent = make_dealer()
    child = make_dealer(parent_id=parent.id)
    with transaction():
        store = stores.create_store(actor=ACTOR, data={"name": "Shop", "region_code": XIHU,
                                                       "dealer_ids": [parent.id]})
        dealers.deactivate_dealer(actor=ACTOR, dealer_id=parent.id)
    with transaction():
        dealers.update_dealer(actor=ACTOR, dealer_id=child.id, changes={"name": "Renamed",
                                                                        "parent_id": parent.id})
        stores.update_store(actor=ACTOR, store_id=store.id, changes={"dealer_ids": [parent.id]})
    assert db.session.get(type(child), child.id).parent_id == parent.id

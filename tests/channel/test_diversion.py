"""Anti-diversion: units seen outside the territory of the dealer they were last shipped to raise alerts."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.channel import diversion, geolocation
from app.channel import errors as channel_errors
from app.channel.models import AlertStatus, DiversionAlert, SeenKind
from app.db import transaction
from app.extensions import db
from app.identity.models import AuditRecord
from tests.concurrency import at_once, results_and_errors
from tests.diversion_factories import SEEN, check, ship_to_dealer, units_of
from tests.masterdata_factories import ACTOR, DONGCHENG, HANGZHOU, XIHU, ZHEJIANG, make_dealer, make_store
from tests.unit_factories import serial


def alerts():
    return db.session.scalars(sa.select(DiversionAlert).order_by(DiversionAlert.serial)).all()


def test_a_case_received_by_a_store_outside_the_territory_alerts_each_item_with_its_evidence(dealer_goods):
    beijing_store = make_store(region_code=DONGCHENG, name="Dongcheng Mart")

    raised = check([dealer_goods["case"]], place_id=beijing_store.id, region_code=DONGCHENG,
                   shipment_id=dealer_goods["shipment"].id, order_id=dealer_goods["shipment"].order_id)

    assert raised == 3
    found = alerts()
    assert [a.serial for a in found] == sorted(serial(c) for c in dealer_goods["items"][:3])
    alert = found[0]
    assert (alert.dealer_id, alert.place_key, alert.region_code, alert.seen_kind, alert.status) == (
        dealer_goods["dealer"].id, f"store:{beijing_store.id}", DONGCHENG, SeenKind.RECEIPT, AlertStatus.OPEN)
    assert alert.product_id == dealer_goods["lot"].product_id and alert.lot_id == dealer_goods["lot"].id
    evidence = alert.evidence
    assert evidence["unit"]["code"] == alert.code
    assert evidence["unit"]["lot"]["lot_no"] == dealer_goods["lot"].lot_no
    assert evidence["dealer"]["id"] == dealer_goods["dealer"].id
    assert evidence["dealer"]["territory"][0]["code"] == HANGZHOU
    assert evidence["order"]["order_no"] == "SO-1"
    assert evidence["seen"]["place_name"] == "Dongcheng Mart"
    assert evidence["seen"]["region_name"].endswith("东城区")
    assert evidence["seen"]["by"] == "clerk:1"
    # The path: the case's SHIP to the dealer, and the shipment it travelled in.
    assert [(step["kind"], step["serial"]) for step in evidence["path"]] == [("ship", serial(dealer_goods["case"]))]
    assert evidence["shipments"][0]["receiver"] == {"kind": "dealer", "id": dealer_goods["dealer"].id}


def test_a_store_inside_the_territory_raises_nothing(dealer_goods):
    xihu_store = make_store(region_code=XIHU)  # a district of the territory's city

    assert check([dealer_goods["case"], dealer_goods["items"][3]], place_id=xihu_store.id, region_code=XIHU) == 0
    assert alerts() == []


def test_a_store_known_by_a_coarser_region_than_the_territory_is_not_outside_for_certain(dealer_goods):
    dealer = make_dealer(territory=[XIHU])
    ship_to_dealer([dealer_goods["items"][4]], dealer.id)
    zhejiang_store = make_store(region_code=HANGZHOU)

    assert check([dealer_goods["items"][4]], place_id=zhejiang_store.id, region_code=HANGZHOU) == 0


def test_the_same_unit_seen_at_the_same_place_twice_is_one_alert(dealer_goods):
    beijing_store = make_store(region_code=DONGCHENG)

    assert check([dealer_goods["case"]], place_id=beijing_store.id, region_code=DONGCHENG) == 3
    # The store then sale-scans one of those items: already alerted there.
    assert check([dealer_goods["items"][0]], place_id=beijing_store.id, region_code=DONGCHENG,
                 seen_kind=SeenKind.SALE) == 0
    assert len(alerts()) == 3


def test_a_unit_with_no_last_dealer_is_never_an_alert(dealer_goods):
    beijing_store = make_store(region_code=DONGCHENG)

    assert check([dealer_goods["items"][5]], place_id=beijing_store.id, region_code=DONGCHENG) == 0
    assert alerts() == []


def test_a_dealer_without_a_territory_is_not_restricted(dealer_goods):
    free = make_dealer()
    ship_to_dealer([dealer_goods["items"][5]], free.id)

    assert check([dealer_goods["items"][5]], place_id=make_store(region_code=DONGCHENG).id, region_code=DONGCHENG) == 0


def test_a_sale_scan_outside_the_territory_alerts(dealer_goods):
    beijing_store = make_store(region_code=DONGCHENG)

    raised = check([dealer_goods["items"][3]], place_id=beijing_store.id, region_code=DONGCHENG, seen_kind=SeenKind.SALE)

    assert raised == 1
    (alert,) = alerts()
    assert alert.seen_kind is SeenKind.SALE
    # Without the caller's shipment, the alert points at the one that brought it to its dealer.
    assert alert.shipment_id == dealer_goods["shipment"].id and alert.order_id == dealer_goods["shipment"].order_id


def test_a_consumer_scan_located_outside_the_territory_alerts(dealer_goods):
    # Issue 6 will call it this way: a consumer's position, mapped to a district offline.
    region = geolocation.region_of(39.93, 116.42)  # Dongcheng, Beijing
    assert region == DONGCHENG

    raised = check([dealer_goods["items"][3]], place_kind="region", place_id=None, region_code=region,
                   seen_kind=SeenKind.CONSUMER_SCAN)

    assert raised == 1
    (alert,) = alerts()
    assert alert.place_key == f"region:{DONGCHENG}" and alert.seen_kind is SeenKind.CONSUMER_SCAN
    assert alert.evidence["seen"]["place_name"].endswith("东城区")


def test_a_consumer_scan_inside_the_territory_or_nowhere_known_raises_nothing(dealer_goods):
    inside = geolocation.region_of(30.26, 120.13)  # West Lake, Hangzhou
    assert inside is not None and inside.startswith("3301")
    for region in (inside, geolocation.region_of(0.0, 0.0)):
        assert check([dealer_goods["items"][3]], place_kind="region", region_code=region,
                     seen_kind=SeenKind.CONSUMER_SCAN) == 0


def test_a_dealer_receiving_its_own_goods_is_not_an_alert_but_a_dealer_outside_the_territory_is(dealer_goods):
    assert check([dealer_goods["case"]], place_kind="dealer", place_id=dealer_goods["dealer"].id, region_code="") == 0

    inside = make_dealer(territory=[XIHU])
    assert check([dealer_goods["case"]], place_kind="dealer", place_id=inside.id, region_code="") == 0

    outside = make_dealer(territory=[XIHU, DONGCHENG])
    assert check([dealer_goods["case"]], place_kind="dealer", place_id=outside.id, region_code="") == 3
    assert {a.region_code for a in alerts()} == {DONGCHENG}


def test_region_of_finds_the_district_of_known_centroids():
    # The bundled dataset's centroids map to themselves.
    assert geolocation.region_of(39.928341, 116.41649) == DONGCHENG
    assert geolocation.region_of(30.259463, 120.130194) == XIHU
    assert geolocation.region_of(None, 120.0) is None
    assert geolocation.region_of(95.0, 120.0) is None
    assert geolocation.region_of(48.85, 2.35) is None  # Paris


def test_alerts_filter_by_dealer_region_and_status(dealer_goods):
    beijing_store = make_store(region_code=DONGCHENG)
    check([dealer_goods["items"][3]], place_id=beijing_store.id, region_code=DONGCHENG, seen_kind=SeenKind.SALE)

    def found(**filters):
        return db.session.scalars(diversion.list_alerts(**filters)).all()

    assert len(found(dealer_id=dealer_goods["dealer"].id)) == 1
    assert len(found(region_code="110000000000")) == 1  # Beijing holds Dongcheng
    assert found(region_code=ZHEJIANG) == []
    assert len(found(status="open", seen_kind="sale")) == 1
    assert found(status="resolved") == []


def test_resolving_an_alert_is_audited_and_happens_once(dealer_goods):
    check([dealer_goods["items"][3]], place_id=make_store(region_code=DONGCHENG).id, region_code=DONGCHENG)
    (alert,) = alerts()

    with transaction():
        diversion.resolve_alert(actor=ACTOR, alert_id=alert.id, status="resolved", resolution="Dealer fined")
    db.session.expire_all()
    alert = diversion.get_alert(alert.id)
    assert (alert.status, alert.resolution, alert.resolved_by) == (AlertStatus.RESOLVED, "Dealer fined", ACTOR.name)
    assert db.session.scalar(sa.select(AuditRecord.action).where(AuditRecord.entity_type == "diversion_alerts")) \
        == "diversion_alert.resolved"

    with pytest.raises(channel_errors.AlertAlreadyClosed), transaction():
        diversion.resolve_alert(actor=ACTOR, alert_id=alert.id, status="dismissed", resolution="again")
    with pytest.raises(channel_errors.ResolutionInvalid), transaction():
        diversion.resolve_alert(actor=ACTOR, alert_id=alert.id, status="open", resolution="x")
    with pytest.raises(channel_errors.AlertNotFound):
        diversion.get_alert(alert.id + 1000)


def test_two_scans_of_one_unit_at_one_place_at_once_raise_one_alert(app, mariadb, dealer_goods):
    place = make_store(region_code=DONGCHENG).id
    ready = threading.Barrier(2, timeout=10)

    def scan():
        units = units_of([dealer_goods["items"][3]])
        ready.wait()
        return diversion.check(units=units, seen_kind=SeenKind.SALE, place_kind="store", place_id=place,
                               region_code=DONGCHENG, seen_by="clerk:1", seen_at=SEEN)

    raised, errors = results_and_errors(at_once(app, scan, scan, each_in_transaction=True))
    assert errors == [None, None], errors
    assert sorted(raised) == [0, 1]
    assert len(alerts()) == 1

"""Diversion alerts over HTTP: list with filters, the evidence, resolve once, roles."""
from __future__ import annotations

from app.channel.models import SeenKind
from app.identity.models import Role
from tests.diversion_factories import check
from tests.masterdata_factories import DONGCHENG, make_store

ALERTS = "/api/admin/diversion-alerts"


def raise_alert(dealer_goods) -> None:
    store = make_store(region_code=DONGCHENG)
    check([dealer_goods["items"][3]], place_id=store.id, region_code=DONGCHENG, seen_kind=SeenKind.SALE)


def test_alerts_are_listed_with_filters_and_shown_with_their_evidence(client, auth, dealer_goods):
    raise_alert(dealer_goods)
    headers = auth.headers_for(Role.AUDITOR)

    listed = client.get(ALERTS, headers=headers, query_string={"dealer_id": dealer_goods["dealer"].id, "status": "open"})
    assert listed.status_code == 200
    (alert,) = listed.json
    assert alert["seen_kind"] == "sale" and alert["region_code"] == DONGCHENG and "evidence" not in alert
    assert client.get(ALERTS, headers=headers, query_string={"region_code": "330000000000"}).json == []
    assert len(client.get(ALERTS, headers=headers, query_string={"region_code": "110000000000"}).json) == 1

    detail = client.get(f"{ALERTS}/{alert['id']}", headers=headers).json
    assert detail["evidence"]["dealer"]["id"] == dealer_goods["dealer"].id
    assert detail["evidence"]["order"]["order_no"] == "SO-1"
    assert client.get(f"{ALERTS}/{alert['id'] + 999}", headers=headers).status_code == 404


def test_ops_resolve_an_alert_once_and_other_roles_may_not(client, auth, dealer_goods):
    raise_alert(dealer_goods)
    alert_id = client.get(ALERTS, headers=auth.headers_for(Role.OPS)).json[0]["id"]
    body = {"status": "dismissed", "resolution": "Territory to correct: the store moved"}

    refused = client.post(f"{ALERTS}/{alert_id}/resolve", json=body, headers=auth.headers_for(Role.FINANCE))
    assert refused.status_code == 403

    done = client.post(f"{ALERTS}/{alert_id}/resolve", json=body, headers=auth.headers_for(Role.OPS))
    assert done.status_code == 200
    assert done.json["status"] == "dismissed" and done.json["resolved_by"]

    again = client.post(f"{ALERTS}/{alert_id}/resolve", json=body, headers=auth.headers_for(Role.ADMIN))
    assert (again.status_code, again.json["code"]) == (409, "diversion_alert_closed")
    bad = client.post(f"{ALERTS}/{alert_id}/resolve", json={"status": "open", "resolution": "x"},
                      headers=auth.headers_for(Role.ADMIN))
    assert bad.status_code == 422

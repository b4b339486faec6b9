"""Consumer scans and code-leak alerts in the back office: lists with filters, resolve once, roles."""
from __future__ import annotations

from datetime import timedelta

from app.identity.models import Role
from tests.consumer_factories import NOW, short
from tests.unit_factories import issue

LEAKS = "/api/admin/code-leak-alerts"
SCANS = "/api/admin/consumer-scans"


def test_leak_alerts_are_listed_and_resolved_once(client, auth, mp):  # noqa: F811
    issued = issue(2)
    headers, _ = mp.sign_in("consumer")
    for _ in range(2):
        assert client.post("/api/consumer/scans", json={"code": issued[0]}, headers=headers).json[
            "verdict"] == "not_commissioned"
    auditor = auth.headers_for(Role.AUDITOR)
    (alert,) = client.get(LEAKS, headers=auditor, query_string={"status": "open"}).json
    assert alert["code"] == issued[0] and alert["scans"] == 2
    assert client.post(f"{LEAKS}/{alert['id']}/resolve", json={"resolution": "x"}, headers=auditor).status_code == 403
    admin = auth.as_admin()
    resolved = client.post(f"{LEAKS}/{alert['id']}/resolve", json={"resolution": "pack reissued"}, headers=admin)
    assert resolved.status_code == 200 and resolved.json["status"] == "resolved"
    again = client.post(f"{LEAKS}/{alert['id']}/resolve", json={"resolution": "again"}, headers=admin)
    assert again.status_code == 409 and again.json["code"] == "code_leak_alert_closed"
    assert client.get(LEAKS, headers=auditor, query_string={"status": "open"}).json == []
    assert client.post(f"{LEAKS}/999999/resolve", json={"resolution": "x"}, headers=admin).status_code == 404


def test_consumer_scans_are_listed_with_filters(client, auth, mp, goods):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    client.post("/api/consumer/scans", json={"code": goods["items"][0], "latitude": 39.93, "longitude": 116.42},
                headers=headers)
    client.post("/api/consumer/scans", json={"url": short("0123456789ABCDEFGH")}, headers=headers)
    viewer = auth.headers_for(Role.AUDITOR)
    assert len(client.get(SCANS, headers=viewer).json) == 2
    (genuine,) = client.get(SCANS, headers=viewer, query_string={"verdict": "genuine"}).json
    assert genuine["product_id"] == goods["product"].id and genuine["region_code"] == "110101000000"
    assert len(client.get(SCANS, headers=viewer, query_string={"region_code": "110000000000"}).json) == 1
    assert client.get(SCANS, headers=viewer, query_string={"region_code": "330000000000"}).json == []
    assert len(client.get(SCANS, headers=viewer, query_string={"product_id": goods["product"].id}).json) == 1
    future = (NOW + timedelta(days=3650)).isoformat()
    assert client.get(SCANS, headers=viewer, query_string={"from": future}).json == []
    assert len(client.get(SCANS, headers=viewer, query_string={"to": future}).json) == 2

"""Consumer profiles, segments and the blacklist in the back office: roles, bodies, 404/409/422."""
from __future__ import annotations

from datetime import timedelta

from app.campaigns.models import PrizeKind
from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.identity.personal_data import mask_openid
from app.payouts.models import Payout, PayoutStatus
from tests.campaign_factories import DONGCHENG, T0, TIANHE, a_rich_consumer

URL = "/api/admin/consumer-profiles"


def test_every_role_reads_a_profile_and_the_list(client, auth, claims):
    auditor = auth.headers_for(Role.AUDITOR)
    user, made = a_rich_consumer(claims)
    claims.consumer("Idle")
    listed = client.get(URL, headers=auditor)
    assert listed.status_code == 200, listed.get_json()
    assert [row["nickname"] for row in listed.get_json()] == ["Lin", "Idle"]
    assert listed.get_json()[0]["scans"] == 10 and listed.get_json()[1]["last_seen_at"] is None
    assert listed.headers["X-Pagination"]
    assert [r["app_user_id"] for r in client.get(f"{URL}?region_code=440100000000&q=Li",
                                                  headers=auditor).get_json()] == [user.id]
    assert client.get(f"{URL}?product_id={made['tea'].id}&q=nobody", headers=auditor).get_json() == []
    profile = client.get(f"{URL}/{user.id}", headers=auditor)
    assert profile.status_code == 200
    body = profile.get_json()
    assert body["scans"]["count"] == 10 and body["won"]["cash_fen"] == 100
    assert body["products"][0] == {"id": made["tea"].id, "name": "Tea", "scans": 2}
    assert body["regions"][0] == {"code": "110100000000", "name": "北京市", "scans": 2}
    assert body["payouts"] == {"count": 2, "paid_fen": 88, "waiting": 1}
    assert (body["points_balance"], body["blacklisted"]) == (300, False)
    missing = client.get(f"{URL}/999999", headers=auditor)
    assert missing.status_code == 404 and missing.get_json()["code"] == "consumer_not_found"
    assert client.get(URL).status_code == 401
    assert client.get(f"{URL}?product_id=abc", headers=auditor).status_code == 422


def test_segments_by_region_product_and_frequency(client, auth, claims):
    marketer = auth.headers_for(Role.MARKETER)
    tea = claims.product("Tea")
    a, b = claims.consumer(), claims.consumer()
    claims.scan(a, product=tea, region_code=DONGCHENG)
    for _ in range(3):
        claims.scan(b, product=tea, region_code=TIANHE, at=T0 + timedelta(days=1))
    provinces = client.get(f"{URL}/segments?group=region", headers=marketer)
    assert provinces.status_code == 200, provinces.get_json()
    assert provinces.get_json()["level"] == "province" and provinces.get_json()["consumers"] == 2
    assert [s["name"] for s in provinces.get_json()["segments"]] == ["北京市", "广东省"]
    cities = client.get(f"{URL}/segments?group=region&level=city&from=2026-11-01T12:00:00Z", headers=marketer)
    assert cities.get_json()["segments"] == [{"code": "440100000000", "name": "广州市", "consumers": 1}]
    assert cities.get_json()["from"].startswith("2026-11-01T12:00:00")
    products = client.get(f"{URL}/segments?group=product", headers=marketer).get_json()
    assert products["segments"] == [{"code": str(tea.id), "name": "Tea", "consumers": 2}]
    frequency = client.get(f"{URL}/segments?group=frequency&to=2026-12-01T00:00:00Z", headers=marketer).get_json()
    assert [(s["code"], s["consumers"]) for s in frequency["segments"]] == [("1", 1), ("2-5", 1), ("6-20", 0),
                                                                           ("21+", 0)]
    for bad in ("", "?group=age", "?group=region&level=district", "?group=region&from=yesterday",
                "?group=frequency&from=0001-01-01T00:00:00%2B05:00"):  # before year 1 in UTC
        refused = client.get(f"{URL}/segments{bad}", headers=marketer)
        assert refused.status_code == 422 and refused.get_json()["code"] == "validation_failed", bad


def test_admin_and_marketer_keep_the_blacklist_others_read_it(client, auth, claims):
    marketer, auditor, ops = (auth.headers_for(r) for r in (Role.MARKETER, Role.AUDITOR, Role.OPS))
    user = claims.consumer("Lin")
    body = {"openid": user.openid, "reason": "claims from many cities"}
    assert client.post(f"{URL}/blacklist", json=body, headers=auditor).status_code == 403
    assert client.post(f"{URL}/blacklist", json=body, headers=ops).status_code == 403
    added = client.post(f"{URL}/blacklist", json=body, headers=marketer)
    assert added.status_code == 201, added.get_json()
    entry = added.get_json()
    assert (entry["openid"], entry["app_user_id"], entry["nickname"]) == (user.openid, user.id, "Lin")
    again = client.post(f"{URL}/blacklist", json=body, headers=auth.as_admin())
    assert again.status_code == 409 and again.get_json()["code"] == "consumer_already_blacklisted"
    unknown = client.post(f"{URL}/blacklist", json={"openid": "o-not-yet-seen"}, headers=marketer)
    assert unknown.status_code == 201 and unknown.get_json()["app_user_id"] is None
    invalid = client.post(f"{URL}/blacklist", json={"openid": "", "reason": "x" * 501}, headers=marketer)
    assert invalid.status_code == 422 and set(invalid.get_json()["errors"]["json"]) == {"openid", "reason"}
    listed = client.get(f"{URL}/blacklist", headers=auditor).get_json()
    assert [e["openid"] for e in listed] == [mask_openid("o-not-yet-seen"), mask_openid(user.openid)]
    assert [e["openid"] for e in client.get(f"{URL}/blacklist?q=cities", headers=marketer).get_json()] == [
        user.openid]
    assert client.get(f"{URL}/{user.id}", headers=auditor).get_json()["blacklisted"] is True
    assert client.delete(f"{URL}/blacklist/{entry['id']}", headers=auditor).status_code == 403
    assert client.delete(f"{URL}/blacklist/{entry['id']}", headers=marketer).status_code == 204
    gone = client.delete(f"{URL}/blacklist/{entry['id']}", headers=marketer)
    assert gone.status_code == 404 and gone.get_json()["code"] == "blacklist_entry_not_found"
    audit = client.get("/api/admin/audit?entity_type=consumer_blacklist", headers=auth.as_admin()).get_json()
    assert sorted(a["action"] for a in audit) == ["consumer_blacklist.add", "consumer_blacklist.add",
                                                  "consumer_blacklist.remove"]


def test_profile_totals_follow_payout_states(client, auth, claims):
    user = claims.consumer()
    _, payout = claims.won(user, claims.campaign(), PrizeKind.CASH, 500)
    with transaction():
        db.session.get(Payout, payout.id).status = PayoutStatus.FAILED
    body = client.get(f"{URL}/{user.id}", headers=auth.as_admin()).get_json()
    assert body["payouts"] == {"count": 1, "paid_fen": 0, "waiting": 0} and body["won"]["cash_fen"] == 500

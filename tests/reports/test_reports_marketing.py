"""Marketing reports (campaigns, consumer heat and segments) and a code's consumer trace, on a small world
whose figures are counted by hand below."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.admin_api.reports import marketing
from app.campaigns import claims
from app.campaigns import service as campaigns
from app.consumers import service as consumers
from app.db import transaction
from app.extensions import db
from app.platform.clock import china_day, day_start
from app.identity.models import Role
from app.payouts import reconciliation, service as payouts, worker
from app.payouts.models import Payout
from tests.masterdata_factories import ACTOR, BEIJING, XIHU, ZHEJIANG, gtin13, make_factory, make_product
from tests.payout_factories import later, user_acts
from tests.production_factories import make_production_lot
from tests.report_checks import rollup_differences
from tests.unit_factories import commission

# Noon in China of today's China day: the payouts settle at the real time, whose China day must be the
# report's last day D2, whatever the hour the suite runs (a fixed 10:00 UTC fell on the day before
# from 16:00 UTC on, when China's day has turned).
NOW = day_start(china_day(datetime.now(UTC))) + timedelta(hours=12)
YESTERDAY = NOW - timedelta(days=1)
D1, D2 = china_day(YESTERDAY), china_day(NOW)
HANGZHOU = (30.26, 120.13)  # West Lake
PEKING = (39.93, 116.42)  # Dongcheng
CASH = {"kind": "cash", "name": "Red packet", "amount": 100, "probability_ppm": 1_000_000}
REPORTS = "/api/admin/reports"


@pytest.fixture
def users(mp):  # noqa: F811
    def make():
        name = mp.new_name()
        mp.sign_in("consumer", name)
        return db.session.scalar(sa.select(AppUser).where(AppUser.app == AppName.CONSUMER,
                                                          AppUser.openid == mp.openid("consumer", name)))
    return make


def open_campaign(**data):
    values = {"name": "Spring", "starts_at": NOW - timedelta(days=2), "ends_at": NOW + timedelta(days=30),
              "total_budget_fen": 1_000, "daily_budget_fen": 500, "per_user_daily_limit": 50,
              "per_user_total_limit": 50, "first_scan_only": False, "prizes": [CASH], **data}
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data=values)
    with transaction():
        return campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")


def scan(user, code, *, at, where=None):
    position = dict(zip(("latitude", "longitude"), where)) if where else {}
    with transaction():
        return consumers.scan(user=user, text=f"https://m.example.com/c/{code}", now=at, **position)


def claim(user, scanned, *, at, campaign_id=None):
    with transaction():
        return claims.claim(user=user, scan_id=scanned.scan_id, now=at, campaign_id=campaign_id)


@pytest.fixture
def world(app, users, sandbox):
    """Campaign A (tea, Zhejiang, 100 fen to every claim) and B (Beijing, no claims); six consumers.

    Yesterday (D1): u1 scans tea 0 in Hangzhou and claims, then scans it again; u2 scans tea 1 in
    Hangzhou and claims; u3 scans tea 2 in Beijing; u5 scans teas 8 and 9 with no location.
    Today (D2): u1 scans tea 3 in Hangzhou and claims; u2 scans coffee 0 in Hangzhou; u3 scans tea 4
    (claims) and tea 5 in Hangzhou; u4 scans tea 6 in Hangzhou; u5 scans teas 10 and 11 unlocated.
    u2's payout is cancelled (100 back), u1's first is paid, the others wait for their users.
    """
    tea = make_product(name="Jasmine Tea", specification="250 g", gtin=gtin13(4343))
    coffee = make_product(name="Coffee", specification="200 g", gtin=gtin13(5353))
    factory = make_factory(region_code=XIHU)
    teas = commission(make_production_lot(product_id=tea.id, factory_id=factory.id, lot_no="L-T1"), 12)
    coffees = commission(make_production_lot(product_id=coffee.id, factory_id=factory.id, lot_no="L-C1"), 2)
    a = open_campaign(name="Tea in Zhejiang", product_ids=[tea.id], region_codes=[ZHEJIANG])
    b = open_campaign(name="Beijing", region_codes=[BEIJING])
    u1, u2, u3, u4, u5 = (users() for _ in range(5))
    first = claim(u1, scan(u1, teas[0], at=YESTERDAY, where=HANGZHOU), at=YESTERDAY)
    scan(u1, teas[0], at=YESTERDAY + timedelta(minutes=5), where=HANGZHOU)
    cancelled = claim(u2, scan(u2, teas[1], at=YESTERDAY, where=HANGZHOU), at=YESTERDAY)
    scan(u3, teas[2], at=YESTERDAY, where=PEKING)
    scan(u5, teas[8], at=YESTERDAY)
    scan(u5, teas[9], at=YESTERDAY)
    claim(u1, scan(u1, teas[3], at=NOW, where=HANGZHOU), at=NOW)
    scan(u2, coffees[0], at=NOW, where=HANGZHOU)
    claim(u3, scan(u3, teas[4], at=NOW, where=HANGZHOU), at=NOW)
    scan(u3, teas[5], at=NOW + timedelta(minutes=1), where=HANGZHOU)
    scan(u4, teas[6], at=NOW, where=HANGZHOU)
    scan(u5, teas[10], at=NOW)
    scan(u5, teas[11], at=NOW)
    with transaction():
        payouts.cancel(actor=ACTOR, payout_id=cancelled.payout_id, reason="test")
    worker.work_due()
    user_acts(sandbox, db.session.get(Payout, first.payout_id).out_bill_no)
    reconciliation.reconcile(later())
    db.session.rollback()
    return {"a": a, "b": b, "tea": tea, "coffee": coffee, "teas": teas, "users": (u1, u2, u3, u4, u5)}


def get(client, auth, path, role=Role.MARKETER, **query):
    return client.get(f"{REPORTS}{path}", query_string={"from": D1.isoformat(), "to": D2.isoformat(), **query},
                      headers=auth.headers_for(role))


def figures(row: dict) -> dict:
    names = ("scans", "genuine_first_scans", "participants", "new_participants", "returning_participants", "claims",
             "wins", "win_rate", "cash_awarded_fen", "points_awarded", "paid_fen", "failed_fen",
             "cost_per_participant_fen", "cost_per_first_scan_fen")
    return {name: row[name] for name in names}


# Campaign A over D1..D2: its scans are tea in Zhejiang (u1 twice and u2 on D1; u1, u3 twice, u4 on D2);
# genuine first scans all but u1's second; claims u1, u2 (D1), u1, u3 (D2), all won 100 fen;
# participants D1 u1 and u2 (new), D2 u1 (returning) and u3 (new); net cash 400 - 100 = 300.
A_TOTALS = {"scans": 7, "genuine_first_scans": 6, "participants": 4, "new_participants": 3,
            "returning_participants": 1, "claims": 4, "wins": 4, "win_rate": 1.0, "cash_awarded_fen": 400,
            "points_awarded": 0, "paid_fen": 100, "failed_fen": 100, "cost_per_participant_fen": 75,
            "cost_per_first_scan_fen": 50}
ZERO = {"scans": 0, "genuine_first_scans": 0, "participants": 0, "new_participants": 0, "returning_participants": 0,
        "claims": 0, "wins": 0, "win_rate": None, "cash_awarded_fen": 0, "points_awarded": 0, "paid_fen": 0,
        "failed_fen": 0, "cost_per_participant_fen": None, "cost_per_first_scan_fen": None}


def test_every_campaign_of_the_period_with_its_figures_and_budget(world, client, auth):
    answer = get(client, auth, "/campaigns", role=Role.FINANCE)
    assert answer.status_code == 200, answer.json
    assert answer.json["period"] == {"from": D1.isoformat(), "to": D2.isoformat(), "days": 2}
    assert answer.json["as_of"]
    a, b = answer.json["rows"]
    assert (a["campaign_id"], a["name"], a["status"]) == (world["a"].id, "Tea in Zhejiang", "active")
    assert figures(a) == A_TOTALS
    assert (a["total_budget_fen"], a["daily_budget_fen"], a["spent_fen"], a["remaining_fen"],
            a["spent_in_period_fen"]) == (1_000, 500, 300, 700, 300)
    # B takes any product in Beijing: u3's tea on D1, a genuine first scan; nobody claimed.
    assert figures(b) == {**ZERO, "scans": 1, "genuine_first_scans": 1, "cost_per_first_scan_fen": 0}
    assert (b["spent_fen"], b["remaining_fen"]) == (0, 1_000)
    assert rollup_differences() == {}


def test_one_campaign_by_day_and_by_region(world, client, auth):
    answer = get(client, auth, f"/campaigns/{world['a'].id}", role=Role.AUDITOR)
    assert answer.status_code == 200, answer.json
    assert figures(answer.json["totals"]) == A_TOTALS
    assert answer.json["campaign"]["spent_fen"] == 300
    d1, d2 = answer.json["by_day"]
    assert (d1["day"], d2["day"]) == (D1.isoformat(), D2.isoformat())
    # D1: u1 twice, u2; both new and won; u2's 100 fen went back to D1's spend. The failure and the
    # payment are counted the day they happened (today).
    assert figures(d1) == {**ZERO, "scans": 3, "genuine_first_scans": 2, "participants": 2, "new_participants": 2,
                           "claims": 2, "wins": 2, "win_rate": 1.0, "cash_awarded_fen": 200,
                           "cost_per_participant_fen": 100, "cost_per_first_scan_fen": 100}
    assert (d1["budget_fen"], d1["spent_fen"]) == (500, 100)
    assert figures(d2) == {**ZERO, "scans": 4, "genuine_first_scans": 4, "participants": 2, "new_participants": 1,
                           "returning_participants": 1, "claims": 2, "wins": 2, "win_rate": 1.0,
                           "cash_awarded_fen": 200, "paid_fen": 100, "failed_fen": 100,
                           "cost_per_participant_fen": 50, "cost_per_first_scan_fen": 25}
    assert (d2["budget_fen"], d2["spent_fen"]) == (500, 200)
    [zhejiang] = answer.json["by_region"]
    assert (zhejiang["region_code"], zhejiang["region_name"], answer.json["level"]) == (ZHEJIANG, "浙江省", "province")
    assert zhejiang["longitude"] and zhejiang["latitude"]
    assert figures(zhejiang) == A_TOTALS
    [hangzhou] = get(client, auth, f"/campaigns/{world['a'].id}", by="city").json["by_region"]
    assert hangzhou["region_code"] == "330100000000" and figures(hangzhou) == A_TOTALS


def test_bad_parameters_are_422_naming_them_and_an_unknown_campaign_is_404(world, client, auth):
    campaign = f"/campaigns/{world['a'].id}"
    answer = get(client, auth, campaign, by="district")
    assert answer.status_code == 422 and "by" in answer.json["errors"]["query"]
    answer = get(client, auth, campaign, **{"from": D2.isoformat(), "to": D1.isoformat()})
    assert answer.status_code == 422 and "from" in answer.json["errors"]
    answer = get(client, auth, "/campaigns", **{"from": (D2 - timedelta(days=366)).isoformat()})
    assert answer.status_code == 422 and "to" in answer.json["errors"]
    answer = get(client, auth, "/consumers/heat", level="district")
    assert answer.status_code == 422 and "level" in answer.json["errors"]["query"]
    assert get(client, auth, "/campaigns/999999").json["code"] == "campaign_not_found"
    assert get(client, auth, "/campaigns", role=Role.OPS).status_code == 403
    assert get(client, auth, "/consumers/heat", role=Role.OPS).status_code == 200


def test_a_regional_user_sees_only_their_regions(world, client, auth, monkeypatch):
    monkeypatch.setattr(marketing, "caller_regions", lambda: ["11"])  # Beijing
    [b] = get(client, auth, "/campaigns").json["rows"]
    assert b["campaign_id"] == world["b"].id and b["scans"] == 1
    assert (b["total_budget_fen"], b["spent_fen"]) == (None, None)  # the whole campaign's, not Beijing's
    answer = get(client, auth, f"/campaigns/{world['a'].id}").json
    assert figures(answer["totals"]) == ZERO and answer["by_region"] == []
    assert answer["campaign"]["spent_fen"] is None and answer["by_day"][0]["spent_fen"] is None
    [beijing] = get(client, auth, "/consumers/heat").json["rows"]
    assert (beijing["region_code"], beijing["scans"], beijing["consumers"]) == (BEIJING, 1, 1)
    segments = get(client, auth, "/consumers/segments").json
    # A regional caller's segments: the consumers who scanned in their regions, by their scans ever (u3: 3).
    assert segments["consumers"] == 1 and segments["frequency"][1] == {"segment": "2-3", "consumers": 1, "scans": 3}
    monkeypatch.setattr(marketing, "caller_regions", lambda: ["33"])  # Zhejiang
    [a] = get(client, auth, "/campaigns").json["rows"]
    assert a["campaign_id"] == world["a"].id and figures(a) == A_TOTALS
    # Zhejiang's consumer-days: u1 3 scans, u2 2, u3 2 (D2; D1 was Beijing), u4 1.
    assert get(client, auth, "/consumers/segments").json["frequency"] == [
        {"segment": "1", "consumers": 1, "scans": 1}, {"segment": "2-3", "consumers": 3, "scans": 8},
        {"segment": "4-9", "consumers": 0, "scans": 0}, {"segment": "10+", "consumers": 0, "scans": 0}]


def test_scan_heat_by_province_and_city(world, client, auth):
    answer = get(client, auth, "/consumers/heat", role=Role.OPS)
    assert answer.status_code == 200, answer.json
    zhejiang, beijing = answer.json["rows"]
    # Zhejiang: D1 u1 twice, u2; D2 u1, u2 (coffee), u3 twice, u4. A consumer counts in the province of
    # their first day of the period: u1, u2, u4 here; u3 began in Beijing (D1).
    assert {k: zhejiang[k] for k in ("region_code", "region_name", "scans", "first_scans", "genuine_first_scans",
                                     "consumers")} == {"region_code": ZHEJIANG, "region_name": "浙江省", "scans": 8,
                                                       "first_scans": 7, "genuine_first_scans": 7, "consumers": 3}
    assert (beijing["region_code"], beijing["scans"], beijing["first_scans"], beijing["consumers"]) == (BEIJING, 1, 1, 1)
    assert zhejiang["longitude"] and beijing["latitude"]
    cities = get(client, auth, "/consumers/heat", level="city").json
    assert cities["level"] == "city"
    assert [(row["region_code"], row["scans"]) for row in cities["rows"]] == [("330100000000", 8),
                                                                            ("110100000000", 1)]


def test_segments_by_frequency_product_and_region(world, client, auth):
    answer = get(client, auth, "/consumers/segments")
    assert answer.status_code == 200, answer.json
    # D1..D2: u4 1 scan; u1 3, u2 2, u3 3; u5 4 (unlocated: in no region, still a consumer).
    assert answer.json["consumers"] == 5
    assert answer.json["frequency"] == [
        {"segment": "1", "consumers": 1, "scans": 1}, {"segment": "2-3", "consumers": 3, "scans": 8},
        {"segment": "4-9", "consumers": 1, "scans": 4}, {"segment": "10+", "consumers": 0, "scans": 0}]
    tea, coffee = answer.json["products"]
    assert (tea["product_id"], tea["product_name"], tea["scans"], tea["first_scans"], tea["genuine_first_scans"]) \
        == (world["tea"].id, "Jasmine Tea", 12, 11, 11)
    assert (coffee["product_id"], coffee["scans"]) == (world["coffee"].id, 1)
    assert [(row["region_code"], row["consumers"]) for row in answer.json["regions"]] == [(ZHEJIANG, 3), (BEIJING, 1)]
    # A member tag counts the scans ever, on the consumer's latest day: everyone scanned again today.
    only_today = get(client, auth, "/consumers/segments", **{"from": D2.isoformat()}).json["frequency"]
    assert [(s["consumers"], s["scans"]) for s in only_today] == [(1, 1), (3, 8), (1, 4), (0, 0)]
    only_yesterday = get(client, auth, "/consumers/segments", to=D1.isoformat()).json["frequency"]
    assert [(s["consumers"], s["scans"]) for s in only_yesterday] == [(0, 0), (0, 0), (0, 0), (0, 0)]
    assert rollup_differences() == {}


def test_days_written_out_of_order_keep_the_segments_and_equal_a_rebuild(app, users, client, auth):
    tea = make_product(name="Jasmine Tea", specification="250 g", gtin=gtin13(4343))
    teas = commission(make_production_lot(product_id=tea.id, factory_id=make_factory(region_code=XIHU).id,
                                          lot_no="L-T2"), 12)
    late, steady = users(), users()
    for i, day in enumerate((NOW, YESTERDAY, NOW - timedelta(days=3))):  # newest first, as a lagging writer may
        scan(late, teas[i], at=day, where=HANGZHOU)
    scan(steady, teas[5], at=NOW - timedelta(days=3), where=HANGZHOU)
    scan(steady, teas[6], at=NOW, where=HANGZHOU)
    # Both scanned last today: late 3 scans ever, steady 2, whatever order their days were written in.
    answer = get(client, auth, "/consumers/segments").json["frequency"]
    assert [(s["consumers"], s["scans"]) for s in answer] == [(0, 0), (2, 5), (0, 0), (0, 0)]
    answer = get(client, auth, "/consumers/segments", **{"from": (D2 - timedelta(days=3)).isoformat()}).json
    assert [(s["consumers"], s["scans"]) for s in answer["frequency"]] == [(0, 0), (2, 5), (0, 0), (0, 0)]
    assert rollup_differences() == {}


def test_a_code_trace_lists_its_consumer_scans_and_draws(world, client, auth):
    code = world["teas"][0]
    answer = client.get(f"/api/admin/trace/codes/{code}", headers=auth.headers_for(Role.AUDITOR))
    assert answer.status_code == 200, answer.json
    first, again = answer.json["consumer_scans"]
    assert answer.json["consumer_scans_total"] == 2
    assert (first["verdict"], first["scan_number"], again["verdict"]) == ("genuine", 1, "scanned_before")
    assert (first["region_code"], first["region_name"]) == (XIHU, "西湖区")
    u1 = world["users"][0]
    assert first["app_user_id"] == u1.id and "***" in first["openid"]  # an auditor sees it masked
    [draw] = answer.json["draws"]
    assert (draw["campaign_id"], draw["campaign_name"], draw["outcome"], draw["prize_kind"], draw["prize_name"],
            draw["amount"], draw["scan_id"]) == (world["a"].id, "Tea in Zhejiang", "won", "cash", "Red packet", 100,
                                                 first["id"])
    shown = client.get(f"/api/admin/trace/codes/{code}", headers=auth.headers_for(Role.MARKETER)).json
    assert shown["consumer_scans"][0]["openid"] == u1.openid

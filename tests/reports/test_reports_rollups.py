"""The rollups are kept by the writers as the facts happen, and equal a rebuild from the source rows."""
from datetime import date, datetime, timedelta, timezone

from app import demo
from app.db import transaction
from app.identity import service as identity
from app.reports import rollups, service
from app.identity.models import Role
from tests.factories import PASSWORD
from tests.report_checks import figure, rollup_differences


def test_the_whole_chain_is_counted_as_it_happens_and_a_rebuild_finds_the_same(app, sandbox):
    seeded = demo.seed()
    facts = seeded["chain"].facts
    cash = [d for d in facts["draws"] if d["prize"]["kind"] == "cash"]
    points = [d for d in facts["draws"] if d["prize"]["kind"] == "points"]
    # The first shift: 1,000 items commissioned and packed into 42 cases; the chain's play: 24 more in one case.
    assert figure("unit.commissioned", variant="item") == 1_000 + 24
    assert figure("unit.packed", variant="item") == 1_000 + 24
    assert figure("codes.issued", measure="amount") == 1_000 + 43 + 25
    # The chain's case: shipped by the brand's warehouse, then by two dealers, received by the store, one sold.
    assert figure("stock.out", measure="amount", place_kind="warehouse") == 24
    assert figure("stock.out", measure="amount", place_kind="dealer") == 24 + 24
    assert figure("stock.in", measure="amount", place_kind="store") == 24
    assert figure("unit.sold") == len(facts["sold"])
    # Consumers: A genuine (first), B the same bottle again, C forged; then each claimer's scans.
    assert figure("scan", variant="forged") == 1
    assert figure("draw") == len(facts["draws"])
    assert figure("prize", measure="amount", variant="cash") == 88 * len(cash)
    assert figure("prize", variant="points") == len(points)
    assert figure("payout.paid", measure="amount") == 88 * len(cash)
    assert rollup_differences() == {}


def test_the_overview_answers_the_chain_s_figures_today_and_beside_the_day_before(app, sandbox, auth, client):
    seeded = demo.seed()
    answer = client.get("/api/admin/reports/overview", headers=auth.headers_for(Role.MARKETER))
    assert answer.status_code == 200, answer.json
    today = answer.json["windows"][0]
    assert today["days"] == 1 and today["from"] == today["to"]
    # The first shift was made on a fixed day long ago; the chain's 24 items today.
    assert today["values"]["items_commissioned"] == 24
    assert today["values"]["shipped_by_brand_items"] == 24
    assert today["values"]["claims"] == len(seeded["chain"].facts["draws"])
    assert today["previous"]["items_commissioned"] == 0
    assert answer.json["trend"][-1]["day"] == today["to"] and len(answer.json["trend"]) == 30
    assert answer.json["trend"][-1]["items_commissioned"] == 24
    assert sum(point["consumer_scans"] for point in answer.json["trend"]) == today["values"]["consumer_scans"] > 0


def test_a_regional_user_s_overview_counts_only_their_regions_rows(app, sandbox, auth, client):
    chain = demo.seed()["chain"]
    def today(regions):
        with transaction():
            user = identity.create_user(actor=identity.Actor.system("tests"), username=f"u{len(regions)}{regions}"[:60],
                                        password=PASSWORD, role=Role.MARKETER, regions=regions)
        headers = {"Authorization": f"Bearer {auth.login(user.username).get_json()['token']}"}
        answer = client.get("/api/admin/reports/overview", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["windows"][0]["values"]
    national, zhejiang, jiangsu = today([]), today(["330000000000"]), today(["320000000000"])
    # The chain's store is in Hangzhou: its sales are Zhejiang's; production and dealers have no region.
    assert national["sold_items"] == zhejiang["sold_items"] == len(chain.facts["sold"]) > 0
    assert jiangsu["sold_items"] == 0
    assert national["items_commissioned"] == 24 and zhejiang["items_commissioned"] == jiangsu["items_commissioned"] == 0
    assert jiangsu["consumer_scans"] == 0 and jiangsu["claims"] == 0


def test_distinct_consumers_of_any_period_count_each_consumer_once_whatever_order_days_are_written(app):
    start = datetime(2026, 3, 1, 4, tzinfo=timezone.utc)  # noon in China

    def scans(user, *days):
        return [{"id": user * 1000 + d, "app_user_id": user, "scanned_at": start + timedelta(days=d - 1),
                 "region_code": "330106000000"} for d in days]
    a, b, c = 101, 102, 103  # app user ids (consumer-days name them, nothing more)
    with transaction():  # written out of order: a's day 10 before its day 3, c's day 40 before its day 2
        rollups.note_consumer_days(scans(a, 1, 10) + scans(c, 40))
    with transaction():
        rollups.note_consumer_days(scans(a, 3) + scans(b, 5) + scans(c, 2) + scans(a, 10))
    def consumers(first, last):
        return service.distinct_consumers(service.Period(date(2026, 3, first), date(2026, 3, 1) + timedelta(days=last - 1)))
    assert consumers(1, 10) == 3
    assert consumers(3, 5) == 2  # a, b
    assert consumers(11, 39) == 0
    assert consumers(10, 40) == 2  # a, c
    assert consumers(2, 2) == 1
    assert service.distinct_consumers(service.Period(date(2026, 3, 1), date(2026, 3, 10)), by_day=True) == {
        date(2026, 3, 1): 1, date(2026, 3, 2): 1, date(2026, 3, 3): 1, date(2026, 3, 5): 1, date(2026, 3, 10): 1}
    # The regional count reads the consumer-days themselves, and agrees.
    period = service.Period(date(2026, 3, 3), date(2026, 3, 5))
    assert service.distinct_consumers(period, regions=["33"]) == 2


def test_figures_by_product_for_the_whole_country_come_from_the_product_rows_and_equal_the_fine_rows(app):
    import sqlalchemy as sa

    from app.extensions import db
    from app.reports.models import DailyFact

    day = date(2026, 3, 2)
    with transaction():  # two lots of product 1 in two provinces, one of product 2, one scan of no product
        rollups.add("scan", day, product_id=1, lot_id=10, region_code="330106000000", variant="genuine")
        rollups.add("scan", day, product_id=1, lot_id=11, region_code="110101000000", variant="genuine")
        rollups.add("scan", day, product_id=1, lot_id=11, region_code="110101000000", variant="scanned_before")
        rollups.add("scan", day, product_id=2, lot_id=20, region_code="330106000000", variant="genuine")
        rollups.add("scan", day, region_code="330106000000", variant="forged")
    period = service.Period(day, day)
    # One product row per (day, product, variant): what the by-product sums read.
    assert db.session.scalar(sa.select(sa.func.count()).where(DailyFact.fact == "scan" + rollups.BY_PRODUCT)) == 4
    by_product = {(r.product_id, r.variant): r.n for r in service.sums(["scan"], period, by=("product_id", "variant"))}
    assert by_product == {(1, "genuine"): 2, (1, "scanned_before"): 1, (2, "genuine"): 1, (0, "forged"): 1}
    assert [(r.fact, r.n) for r in service.sums(["scan"], period, product_id=[1, 2])] == [("scan", 4)]
    # A regional caller's still reads the fine rows (the product rows have no region), and agrees on theirs.
    regional = {r.product_id: r.n for r in service.sums(["scan"], period, by=("product_id",), regions=["33"])}
    assert regional == {1: 1, 2: 1, 0: 1}


def test_every_report_exports_its_rows_as_a_sheet_with_chinese_headers(app, sandbox, auth, client):
    import io

    import openpyxl

    demo.seed()
    headers = auth.headers_for(Role.ADMIN)
    paths = sorted(rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/api/admin/reports/") and not rule.arguments)
    assert len(paths) >= 10
    for path in paths:
        answer = client.get(path, query_string={"format": "xlsx"}, headers=headers)
        assert answer.status_code == 200, (path, answer.get_json())
        sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
        header = [cell.value for cell in sheet[1]]
        assert header and all(not text.isascii() for text in header), (path, header)
    overview = openpyxl.load_workbook(io.BytesIO(client.get(
        "/api/admin/reports/overview", query_string={"format": "xlsx"}, headers=headers).data)).active
    assert overview.max_row == 1 + 30  # the 30 days of the trend
    assert client.get("/api/admin/reports/overview", query_string={"format": "pdf"},
                      headers=headers).status_code == 422


def test_with_redis_away_the_overview_still_answers_and_says_the_pending_scans_are_unknown(app, auth, client, outage):
    headers = auth.headers_for(Role.MARKETER)
    outage.redis()
    answer = client.get("/api/admin/reports/overview", headers=headers)
    outage.end()
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["scans_pending"] == -1

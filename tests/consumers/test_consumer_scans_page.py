"""The printed URL in a browser: a small page with the verdict, escaped, and nothing recorded."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.codes import service as codes
from app.consumers.models import ConsumerScan
from app.db import transaction
from app.extensions import db
from app.trace import recalls
from app.units.models import Unit, UnitStatus
from tests.masterdata_factories import ACTOR, make_product
from tests.unit_factories import issue, serial, set_units

INVITATIONS = ("参与活动", "campaign", "Open in WeChat", "在微信中打开")


@pytest.fixture
def contacts(app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_SERVICE_PHONE", "400-820-8820")
    monkeypatch.setitem(app.config, "BRAND_REPORT_EMAIL", "report@brand.example.com")
    monkeypatch.setitem(app.config, "BRAND_REPORT_URL", "https://brand.example.com/report?from=label&x=1")


def test_the_short_url_page_shows_the_verdict_and_invites_to_scan_with_wechat(client, goods):
    code = goods["items"][0]
    response = client.get(f"/c/{code}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "A genuine code" in page and "Jasmine Tea" in page and code in page
    assert "参与活动" in page and "join campaigns" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3", "")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan)) == 0


def test_no_page_shows_the_mini_programs_internal_path(client, goods):
    for path in (f"/c/{goods['items'][0]}", "/c/0123456789ABCDEFGH"):
        page = client.get(path).get_data(as_text=True)
        assert "pages/" not in page and "?q=" not in page and "%2F" not in page, path


def test_the_digital_link_page(client, goods):
    gtin, code = goods["product"].gtin, goods["items"][1]
    for path in (f"/01/{gtin}/21/{code}", f"/01/{gtin}/10/L2026-03/21/{code}"):
        page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert "A genuine code" in page, path


def _scrap(code):
    with transaction():
        set_units(Unit.serial == serial(code), status=UnitStatus.SCRAPPED)


def _forged(goods):
    return "0123456789ABCDEFGH"


def _never_commissioned(goods):
    return issue(1)[0]


def _in_a_voided_batch(goods):
    voided = issue(1)
    with transaction():
        codes.void_batch(actor=ACTOR, batch_id=voided.batch.id, reason="misprint")
    return voided[0]


def _a_voided_unit(goods):
    with transaction():
        set_units(Unit.serial == serial(goods["items"][0]), status=UnitStatus.VOIDED)
    return goods["items"][0]


def _scrapped(goods):
    _scrap(goods["items"][0])
    return goods["items"][0]


def _recalled(goods):
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=goods["lot"].id, reason="contamination")
    return goods["items"][0]


# (how the code got its verdict, its title, what to do in Chinese, then in English)
COUNTERFEIT = ("请勿购买或食用", "Do not buy or consume it")
WARNINGS = [
    (_forged, "Not one of our codes", *COUNTERFEIT),
    (_never_commissioned, "Never put on a product", *COUNTERFEIT),
    (_in_a_voided_batch, "Voided", *COUNTERFEIT),
    (_a_voided_unit, "Voided", *COUNTERFEIT),
    (_scrapped, "Scrapped", "请勿食用或使用", "Do not consume or use it"),
    (_recalled, "Recalled", "请立即停止食用或使用", "Stop consuming or using it now"),
]


@pytest.mark.parametrize("make, title, chinese, english", WARNINGS, ids=[case[0].__name__ for case in WARNINGS])
def test_every_page_that_warns_says_what_to_do_in_chinese_first_and_invites_to_nothing(
        client, goods, contacts, make, title, chinese, english):
    page = client.get(f"/c/{make(goods)}").get_data(as_text=True)
    assert title in page
    for invitation in INVITATIONS:
        assert invitation not in page, invitation
    assert "pages/" not in page
    assert chinese in page and english in page and page.index(chinese) < page.index(english)
    assert "12315" in page and 'href="https://www.12315.cn/"' in page
    assert 'href="tel:400-820-8820"' in page and 'href="mailto:report@brand.example.com"' in page
    assert 'href="https://brand.example.com/report?from=label&amp;x=1"' in page


def test_a_counterfeit_page_says_to_keep_the_product_and_report_it(client, goods, contacts):
    page = client.get(f"/c/{_never_commissioned(goods)}").get_data(as_text=True)
    chinese, english = "请保留产品和购物凭证（小票或发票）并举报", "Keep the product and the receipt or invoice, and report it"
    assert chinese in page and english in page and page.index(chinese) < page.index(english)
    assert page.index("品牌客服电话") < page.index("400-820-8820") < page.index("全国消费者投诉举报热线")


def test_a_scrapped_page_says_to_report_where_it_was_bought(client, goods):
    _scrap(goods["items"][0])
    page = client.get(f"/c/{goods['items'][0]}").get_data(as_text=True)
    assert "请勿食用或使用" in page and "购买的门店" in page and "where you bought it" in page


def test_brand_contacts_not_configured_are_left_out(client):
    page = client.get("/c/0123456789ABCDEFGH").get_data(as_text=True)
    assert "tel:" not in page and "mailto:" not in page and "12315" in page


def test_a_recall_page_shows_the_recalls_public_notice_and_never_its_internal_reason(client, goods):
    items = goods["items"]
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=goods["lot"].id, reason="supplier R-88 aflatoxin, see QA-17",
                         public_notice="请将产品退回购买门店，凭瓶盖全额退款。<Refund at the store>")
    page = client.get(f"/c/{items[0]}").get_data(as_text=True)
    assert "请将产品退回购买门店，凭瓶盖全额退款。&lt;Refund at the store&gt;" in page
    assert "QA-17" not in page and "Recalled" in page


def test_a_recall_without_a_public_notice_shows_the_general_steps_only(client, goods):
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=goods["lot"].id, reason="internal: line 3 seal")
    page = client.get(f"/c/{goods['items'][0]}").get_data(as_text=True)
    assert "line 3 seal" not in page and "召回说明" not in page and "停止食用" in page


def test_the_page_keeps_its_headers(client, goods):
    for code in (goods["items"][0], "0123456789ABCDEFGH"):
        response = client.get(f"/c/{code}")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"


def test_forged_and_hostile_codes_are_escaped(client):
    response = client.get("/c/%3Cimg%20src%3Dx%20onerror%3D%22alert(1)%22%3E")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "Not one of our codes" in page


def test_a_product_name_is_escaped(client):
    issued = issue(1, product_id=make_product(name="<b>Bold</b> & Co").id)
    page = client.get(f"/c/{issued[0]}").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in page and "Never put on a product" in page


def test_the_page_does_not_shadow_other_routes(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/x/0123456789ABCDEFGH").status_code == 404

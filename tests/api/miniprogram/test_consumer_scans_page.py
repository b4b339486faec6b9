"""The printed URL in a browser: a small page with the verdict, escaped, and nothing recorded."""
from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa

from app.consumers.models import ConsumerScan
from app.extensions import db
from tests.masterdata_factories import make_product
from tests.unit.test_consumer_scans import goods  # noqa: F401 - the fixture
from tests.unit_factories import issue


def test_the_short_url_page_shows_the_verdict_and_the_mini_program_path(client, goods):  # noqa: F811
    code = goods["items"][0]
    response = client.get(f"/c/{code}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "A genuine code" in page and "Jasmine Tea" in page and code in page
    assert "Open in WeChat" in page
    assert f"pages/scan/index?q={quote(f'https://m.example.com/c/{code}', safe='')}" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3", "")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan)) == 0


def test_the_digital_link_page(client, goods):  # noqa: F811
    gtin, code = goods["product"].gtin, goods["items"][1]
    for path in (f"/01/{gtin}/21/{code}", f"/01/{gtin}/10/L2026-03/21/{code}"):
        page = client.get(path).get_data(as_text=True)
        assert "A genuine code" in page, path


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

"""The GS1 Digital Link resolver over HTTP: the consumer page for browsers, 307s per linkType, the linkset
for machines, 404s with a JSON body for what is not ours, and its rate limit."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa

from app.consumers.models import ConsumerScan
from app.db import transaction
from app.extensions import db
from app.units.models import Unit, UnitStatus
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_production_lot
from tests.resolver_factories import BROWSER, LINKSET
from tests.unit_factories import commission, issue, serial, set_units

VOC = "https://gs1.org/voc/"


def path_of(response) -> str:
    return urlsplit(response.headers["Location"]).path


def test_a_browser_gets_the_consumer_page_of_the_unit(client, tea):
    code = tea["items"][0]
    for path in (f"/01/{tea['gtin']}/21/{code}", f"/01/{tea['gtin13']}/21/{code}",
                 f"/01/{tea['gtin']}/10/L2026-03/21/{code.lower()}"):
        response = client.get(path, headers=BROWSER)
        assert (response.status_code, response.mimetype) == (200, "text/html"), path
        page = response.get_data(as_text=True)
        assert "A genuine code" in page and "Jasmine Tea" in page
        assert f'rel="{VOC}pip"' in response.headers["Link"] and 'rel="linkset"' in response.headers["Link"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan)) == 0  # nothing recorded


def test_each_link_type_redirects_to_its_target(client, tea):
    code = tea["items"][0]
    unit = f"/01/{tea['gtin13']}/21/{code}"
    expected = {"gs1:pip": f"/gs1/pip/{tea['gtin']}", "gs1:verificationService": f"/gs1/verify/{tea['gtin']}/{code}",
                "gs1:traceability": f"/gs1/trace/{tea['gtin']}/{code}", f"{VOC}traceability": f"/gs1/trace/{tea['gtin']}/{code}",
                "gs1:defaultLink": f"/c/{code}", "gs1:noSuchLinkType": f"/c/{code}"}
    for link_type, target in expected.items():
        response = client.get(unit, query_string={"linkType": link_type}, headers=BROWSER)
        assert (response.status_code, path_of(response)) == (307, target), link_type
    # A client that asks for no particular type is sent to the default link.
    assert (client.get(unit).status_code, path_of(client.get(unit))) == (307, f"/c/{code}")


def test_the_targets_answer(client, tea):
    code = tea["items"][0]
    pip = client.get(f"/gs1/pip/{tea['gtin13']}")
    assert pip.status_code == 200 and "Jasmine Tea" in pip.get_data(as_text=True) and "250 g" in pip.get_data(as_text=True)

    verified = client.get(f"/gs1/verify/{tea['gtin']}/{code}")
    assert verified.status_code == 200, verified.get_json()
    assert verified.get_json() == {
        "gtin": tea["gtin"], "serial": code, "verified": True, "verdict": "genuine",
        "message": verified.get_json()["message"], "product": {"name": "Jasmine Tea", "gtin": tea["gtin"]}}

    story = client.get(f"/gs1/trace/{tea['gtin']}/{code}").get_json()
    assert story["lot"] == {"lot_no": "L2026-03", "production_date": story["lot"]["production_date"],
                            "expiry_date": "2027-03-02"}
    assert story["story"]["made"]["city"] and story["product"]["name"] == "Jasmine Tea"

    with transaction():
        set_units(Unit.serial == serial(tea["items"][1]), status=UnitStatus.SCRAPPED)
    scrapped = client.get(f"/gs1/verify/{tea['gtin']}/{tea['items'][1]}").get_json()
    assert (scrapped["verified"], scrapped["verdict"]) == (False, "scrapped")


def test_machines_get_the_linkset(client, tea):
    code = tea["items"][0]
    for query, headers in (({}, LINKSET), ({"linkType": "all"}, {}), ({"linkType": "all"}, BROWSER)):
        response = client.get(f"/01/{tea['gtin13']}/21/{code}", query_string=query, headers=headers)
        assert (response.status_code, response.mimetype) == (200, "application/linkset+json"), (query, headers)
        [entry] = response.get_json()["linkset"]
        assert entry["anchor"] == f"https://m.example.com/01/{tea['gtin']}/21/{code}"
        assert entry["itemDescription"] == "Jasmine Tea"
        assert {key for key in entry if key.startswith(VOC)} == {
            f"{VOC}{kind}" for kind in ("defaultLink", "pip", "verificationService", "traceability")}
        assert entry[f"{VOC}verificationService"][0] == {
            "href": f"https://m.example.com/gs1/verify/{tea['gtin']}/{code}", "title": "真伪验证 · Verification",
            "type": "application/json", "hreflang": ["zh", "en"]}


def test_the_short_form_names_the_product(client, tea):
    response = client.get(f"/01/{tea['gtin13']}", headers=BROWSER)
    assert (response.status_code, path_of(response)) == (307, f"/gs1/pip/{tea['gtin']}")
    linkset = client.get(f"/01/{tea['gtin']}", headers=LINKSET).get_json()["linkset"][0]
    assert linkset["anchor"] == f"https://m.example.com/01/{tea['gtin']}"
    assert {key for key in linkset if key.startswith(VOC)} == {f"{VOC}defaultLink", f"{VOC}pip"}
    # The unit's own link types fall back to the default for a product.
    traced = client.get(f"/01/{tea['gtin']}", query_string={"linkType": "gs1:traceability"})
    assert path_of(traced) == f"/gs1/pip/{tea['gtin']}"


def test_what_is_not_ours_answers_404_with_a_reason(client, tea):
    other = make_product(name="Other", gtin="4006381333931")
    other_code = commission(make_production_lot(product_id=other.id, factory_id=make_factory().id), 1)[0]
    code = tea["items"][0]
    bad_check = tea["gtin"][:-1] + str((int(tea["gtin"][-1]) + 1) % 10)
    cases = {
        f"/01/{bad_check}/21/{code}": "gtin_invalid",
        f"/01/{bad_check}": "gtin_invalid",
        f"/01/12345/21/{code}": "gtin_invalid",
        "/01/notagtin": "gtin_invalid",
        f"/01/96385074/21/{code}": "gtin_unknown",  # a valid GTIN-8 of no product of ours
        f"/01/{tea['gtin']}/21/0123456789ABCDEFGH": "serial_unknown",  # fails the MAC
        f"/01/{tea['gtin']}/21/{issue(1)[0]}": "serial_unknown",  # ours, but of no product
        f"/01/{tea['gtin']}/21/{other_code}": "serial_unknown",  # another product's code
        f"/01/{tea['gtin']}/21/{'x' * 300}": "serial_unknown",
        f"/gs1/verify/{tea['gtin']}/0123456789ABCDEFGH": "serial_unknown",
        f"/gs1/trace/{bad_check}/{code}": "gtin_invalid",
        "/gs1/pip/96385074": "gtin_unknown",
    }
    for path, reason in cases.items():
        for query in ({}, {"linkType": "gs1:pip"}, {"linkType": "all"}):
            response = client.get(path, query_string=query, headers=LINKSET)
            assert response.status_code == 404, (path, query, response.status_code)
            body = response.get_json()
            assert (body["code"], body["status"]) == (reason, 404) and body["message"], (path, query)
    # A browser gets the page that says the code is not ours, with the 404.
    page = client.get(f"/01/{tea['gtin']}/21/0123456789ABCDEFGH", headers=BROWSER)
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "Not one of our codes" in page.get_data(as_text=True)


def test_the_resolver_is_rate_limited_per_address(app, client, tea, monkeypatch):
    monkeypatch.setitem(app.config, "GS1_RESOLVER_PER_MINUTE_IP", 3)
    code = tea["items"][0]
    answers = [client.get(f"/01/{tea['gtin']}/21/{code}", headers=LINKSET).status_code for _ in range(3)]
    answers.append(client.get(f"/gs1/verify/{tea['gtin']}/{code}").status_code)
    assert answers == [200, 200, 200, 429]
    limited = client.get(f"/01/{tea['gtin']}", headers=LINKSET)
    assert (limited.status_code, limited.get_json()["code"]) == (429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_resolver_describes_itself(client):
    description = client.get("/.well-known/gs1resolver").get_json()
    assert description["supportedPrimaryKeys"] == ["01"] and description["resolverRoot"] == "https://m.example.com"


def test_a_link_naming_another_lot_than_the_units_is_a_404_lot_mismatch(client, tea):
    """/01/<gtin>/10/<lot>/21/<serial>: a copied QR printed with another lot shows the mismatch (PRODUCT.md)."""
    code = tea["items"][0]
    right = client.get(f"/01/{tea['gtin']}/10/L2026-03/21/{code}", headers={"Accept": "application/linkset+json"})
    assert right.status_code == 200, right.get_data(as_text=True)
    wrong = client.get(f"/01/{tea['gtin']}/10/SOME-OTHER-LOT/21/{code}", headers={"Accept": "application/linkset+json"})
    assert (wrong.status_code, wrong.get_json()["code"]) == (404, "lot_mismatch"), wrong.get_data(as_text=True)
    page = client.get(f"/01/{tea['gtin']}/10/SOME-OTHER-LOT/21/{code}", headers={"Accept": "text/html"})
    assert page.status_code == 404

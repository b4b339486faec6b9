"""Attacked (issue 16): the public GS1 Digital Link resolver and RFID reads."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app import gs1, rfid
from tests.resolver_factories import BROWSER, LINKSET


@pytest.mark.parametrize("gtin", ["\u00b2" * 14, "\uff10\uff16\uff19" + "0" * 11, "\u0660" * 14, "1" * 14,
                                  "0690123456789x", "%2e%2e", "-1", " 06901234567892", "0" * 400])
def test_bad_gtins_are_404_with_a_code(client, gtin):
    for path in (f"/01/{gtin}", f"/01/{gtin}/21/ABC", f"/gs1/pip/{gtin}", f"/gs1/verify/{gtin}/ABC",
                 f"/gs1/trace/{gtin}/ABC"):
        response = client.get(path, headers=LINKSET)
        assert response.status_code == 404, (path, response.status_code)
        assert response.get_json()["code"] in ("gtin_invalid", "gtin_unknown", "not_found"), path


def test_normalize_gtin_accepts_only_ascii_digits():
    for text in ("\uff10\uff16\uff19\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff12",
                 "\u0660\u0666\u0669\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0662"):
        with pytest.raises(ValueError):
            gs1.normalize_gtin(text)


def test_the_resolver_never_redirects_off_the_label_domain(client, tea, app):
    code = tea["items"][0]
    domain = app.config["LABEL_DOMAIN"]
    for link_type in ("https://evil.example/", "//evil.example", "gs1:pip\r\nLocation: https://evil.example",
                      "javascript:alert(1)", "all\u0000", "gs1:" + "x" * 5000):
        for path in (f"/01/{tea['gtin']}/21/{code}", f"/01/{tea['gtin']}",
                     f"/01/{tea['gtin']}/10/%2F%2Fevil.example%0d%0a/21/{code}"):
            response = client.get(path, query_string={"linkType": link_type}, headers=BROWSER)
            assert response.status_code in (200, 307, 308, 404), (path, link_type, response.status_code)
            if response.status_code in (307, 308):
                domain_ok = urlsplit(response.headers["Location"]).hostname in (domain, "localhost")
                assert domain_ok, response.headers["Location"]
                continue
            if response.status_code == 307:
                assert urlsplit(response.headers["Location"]).hostname == domain, response.headers["Location"]
            assert "\r" not in response.headers.get("Link", "") and "\n" not in response.headers.get("Link", "")
            assert "evil.example/" not in response.headers.get("Link", "").replace("%2F%2Fevil.example", "")


@pytest.mark.parametrize("text", ["e2801105200074a2c1b20000", " E2801105200074A2C1B20000 ",
                                  "E28011052", "E2", "3" * 24, "30" + "F" * 22, "303" + "\u0660" * 21])
def test_parse_epc_is_total(text):
    try:
        epc = rfid.parse_epc(text)
    except rfid.EpcInvalid:
        return
    assert epc.hex == epc.hex.upper() and epc.hex.isascii()


def test_the_rate_limit_counts_404s_and_every_target(client, app, tea, monkeypatch):
    monkeypatch.setitem(app.config, "GS1_RESOLVER_PER_MINUTE_IP", 3)
    code = tea["items"][0]
    paths = ["/01/00000000000000", "/01/12345678901231/21/X", f"/gs1/verify/{tea['gtin']}/{code}",
             f"/gs1/trace/{tea['gtin']}/{code}", f"/gs1/pip/{tea['gtin']}", f"/01/{tea['gtin']}/21/{code}"]
    statuses = [client.get(p, headers=LINKSET).status_code for p in paths]
    assert statuses[3:] == [429, 429, 429], statuses
    other_ip = client.get(f"/01/{tea['gtin']}/21/{code}", headers=LINKSET, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other_ip.status_code == 200
    spoofed = client.get(f"/01/{tea['gtin']}/21/{code}", headers={**LINKSET, "X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status_code == 429, "X-Forwarded-For must not reset the limit when no proxy is configured"

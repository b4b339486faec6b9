"""The console's built files at /console/: the index for every history-mode route, never cached; hashed
assets cached for a year; a 503 that says how to build it when there is no build."""
from __future__ import annotations

import pytest


@pytest.fixture
def dist(app, tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>", encoding="utf-8")
    (tmp_path / "assets" / "index-3f2a1b.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    monkeypatch.setitem(app.config, "CONSOLE_DIST", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", ["/console/", "/console/dashboard", "/console/marketing/campaigns/12", "/console/login"])
def test_every_console_route_answers_the_index_uncached(client, dist, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert b'<div id=app>' in answer.data
    assert answer.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/console/admin/webhooks?status=failed", "/console/admin/approvals?status=pending&page=2",
                                  "/console/finance/payouts?status=held&page=2", "/console/channel/diversion?tab=leaks",
                                  "/console/finance/exports?highlight=17",
                                  "/console/login?next=%2Fconsole%2Fchannel%2Fdiversion%3Fstatus%3Dopen"])
def test_a_screen_linked_with_its_filters_answers_the_index(client, dist, path):
    """The dashboard's to-do links, a reloaded filtered list and an export's highlight carry their query:
    the index answers, not the API's 422 for unknown query parameters."""
    answer = client.get(path)
    assert answer.status_code == 200
    assert b'<div id=app>' in answer.data
    assert answer.headers["Cache-Control"] == "no-cache"


def test_the_api_still_refuses_unknown_query_parameters(client, auth, dist):
    from app.identity.models import Role

    answer = client.get("/api/admin/payouts", query_string={"tab": "x"}, headers=auth.headers_for(Role.FINANCE))
    assert answer.status_code == 422 and answer.json["errors"]["query"] == {"tab": ["Unknown field."]}


def test_hashed_assets_are_cached_for_a_year(client, dist):
    answer = client.get("/console/assets/index-3f2a1b.js")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/console/assets/missing-000.js").status_code == 404


def test_files_beside_the_index_are_served(client, dist):
    assert client.get("/console/favicon.svg").data == b"<svg/>"


def test_paths_cannot_leave_the_build(client, dist):
    assert client.get("/console/assets/../../etc/passwd").status_code == 404
    answer = client.get("/console/..%2f..%2fetc%2fpasswd")
    assert b"root:" not in answer.data


def test_without_a_build_the_console_says_how_to_build_it(client, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CONSOLE_DIST", str(tmp_path / "nothing"))
    answer = client.get("/console/")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert b"make run" in answer.data


def test_the_console_runs_only_its_own_scripts_and_talks_only_to_this_origin(client, dist):
    headers = client.get("/console/dashboard").headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"

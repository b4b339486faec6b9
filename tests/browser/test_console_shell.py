"""The console's frame: sign-in, the dashboard drawn from the reports, the language switch, and a
session that the API no longer accepts returning to sign-in."""
from __future__ import annotations

import re

from tests.browser.actions import shot, sign_in


def test_an_administrator_signs_in_and_sees_the_dashboard(page, server):
    sign_in(page, server, "admin")
    page.wait_for_url(re.compile(r"/console/dashboard$"))
    kpis = page.get_by_test_id("kpis")
    kpis.get_by_text("消费者扫码").wait_for()
    # The demo chain's consumers scanned today: the "today" window counts them.
    page.get_by_test_id("window").get_by_text("今天").click()
    scans = kpis.locator(".el-card").filter(has_text="消费者扫码").locator(".num")
    assert int(scans.inner_text().replace(",", "")) >= 1
    page.get_by_test_id("trend-chart").locator("canvas").wait_for()
    page.get_by_test_id("map-chart").locator("canvas").wait_for()
    assert "demo-admin" in page.get_by_test_id("who").inner_text()
    shot(page, "dashboard-admin")


def test_a_wrong_password_is_explained(page, server, watch):
    watch.allow(r"401 POST .*/api/admin/auth/login")
    page.goto("/console/")
    page.wait_for_url(re.compile(r"/console/login"))
    page.get_by_test_id("username").fill("demo-admin")
    page.get_by_test_id("password").fill("not the password")
    page.get_by_test_id("submit").click()
    error = page.get_by_test_id("login-error")
    error.wait_for()
    assert error.inner_text().strip()
    assert "/console/login" in page.url


def test_the_language_switch_turns_every_label_english(page, server):
    sign_in(page, server, "admin")
    page.get_by_test_id("kpis").get_by_text("消费者扫码").wait_for()
    page.get_by_test_id("lang").click()
    page.get_by_test_id("kpis").get_by_text("Consumer scans").wait_for()
    assert "Sign out" in page.get_by_test_id("sign-out").inner_text()
    page.reload()  # the choice is kept
    page.get_by_test_id("kpis").get_by_text("Consumer scans").wait_for()
    shot(page, "dashboard-english")


def test_a_session_the_api_refuses_returns_to_sign_in(page, server, watch):
    watch.allow(r"401 GET .*/api/admin/")
    sign_in(page, server, "admin")
    page.get_by_test_id("kpis").wait_for()
    page.evaluate("""() => {
        const kept = JSON.parse(localStorage.getItem('matong.console'));
        kept.token = 'no-longer-valid';
        localStorage.setItem('matong.console', JSON.stringify(kept));
    }""")
    page.reload()
    page.wait_for_url(re.compile(r"/console/login\?next="))


def test_signing_out_ends_the_session(page, server, watch):
    # Signing out while the dashboard's counts are still loading: their answers are 401 now.
    watch.allow(r"401 GET .*/api/admin/")
    sign_in(page, server, "marketer")
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto("/console/dashboard")
    page.wait_for_url(re.compile(r"/console/login"))


def test_a_list_sorts_through_the_api_by_its_header(page, server):
    """The ID column's header asks the API for ?sort=id, then ?sort=-id; the rows follow (no 422)."""
    sign_in(page, server, "admin")
    page.goto("/console/marketing/campaigns")
    table = page.get_by_test_id("list")
    table.locator("tbody tr").first.wait_for()
    header = table.locator("th").filter(has_text=re.compile(r"^(编号|ID)$"))
    with page.expect_response(re.compile(r"/api/admin/campaigns\?.*sort=id")) as ascending:
        header.click()
    assert ascending.value.status == 200
    ids = [row["id"] for row in ascending.value.json()]
    assert ids == sorted(ids)
    with page.expect_response(re.compile(r"/api/admin/campaigns\?.*sort=-id")) as descending:
        header.click()
    assert descending.value.status == 200
    ids = [row["id"] for row in descending.value.json()]
    assert ids == sorted(ids, reverse=True)

"""Roles and data scope in the console: an auditor sees no write button and the API refuses a forced
write; a user limited to a region sees only that region; a role opening a screen it may not read gets
the page naming the roles it needs."""
from __future__ import annotations

import re

import requests

from tests.browser.actions import shot, sign_in

# What an auditor must never be offered (the write buttons of the dashboard and administration screens).
WRITE_BUTTONS = ("[data-test^='create-'], [data-test='edit-user'], [data-test='revoke-key'], [data-test='edit-endpoint'], "
                 "[data-test='redeliver'], [data-test='approve'], [data-test='reject'], [data-test='rotate-secret']")


def _token(server, username: str) -> str:
    answer = requests.post(f"{server.url}/api/admin/auth/login", json={"username": username, "password": server.password},
                           timeout=10)
    answer.raise_for_status()
    return answer.json()["token"]


def _fetch_as_page(page, method: str, path: str, body=None) -> dict:
    """Call the API from the page with the signed-in user's own token (what a crafted request would do)."""
    return page.evaluate("""async ([method, path, body]) => {
        const token = JSON.parse(localStorage.getItem('matong.console')).token;
        const response = await fetch(path, { method, headers: { 'Content-Type': 'application/json',
            Authorization: `Bearer ${token}` }, body: body === null ? undefined : JSON.stringify(body) });
        return { status: response.status, body: await response.json() };
    }""", [method, path, body])


def test_an_auditor_sees_no_write_button_and_the_api_refuses_a_forced_write(page, server, watch):
    watch.allow(r"403 POST .*/api/admin/webhook-endpoints$")
    sign_in(page, server, "auditor")
    page.wait_for_url(re.compile(r"/console/dashboard$"))
    page.get_by_test_id("kpis").wait_for()
    page.get_by_test_id("trend-chart").locator("canvas").wait_for()
    assert page.locator(WRITE_BUTTONS).count() == 0
    shot(page, "roles-auditor-dashboard")
    # The menu offers the administration screens an auditor may read, and not the admins' ones.
    assert page.get_by_test_id("menu-audit").count() == 1 and page.get_by_test_id("menu-users").count() == 0
    for path, ready, name in (("admin/audit", "audit", "roles-auditor-audit"), ("admin/webhooks", "webhooks", None),
                              ("admin/webhooks?status=failed", "deliveries", None),
                              ("admin/approvals?status=pending", "approvals", "roles-auditor-approvals")):
        page.goto(f"/console/{path}")
        page.get_by_test_id(ready).wait_for()
        page.get_by_test_id("list").locator(".el-table__row, .el-table__empty-text").first.wait_for()
        page.wait_for_load_state("networkidle")
        assert page.locator(WRITE_BUTTONS).count() == 0, path
        assert page.get_by_test_id("export").count() >= 1  # reading and exporting stay open to an auditor
        if name:
            shot(page, name)
    # The console only hides; the API is what refuses.
    forced = _fetch_as_page(page, "POST", "/api/admin/webhook-endpoints", {"url": "https://erp.example.com/hook"})
    assert forced["status"] == 403
    assert forced["body"]["code"] == "role_forbidden"
    assert "auditor" in forced["body"]["message"]


def test_a_regional_user_sees_only_their_region(page, server, watch):
    admin = _token(server, "demo-admin")
    made = requests.post(f"{server.url}/api/admin/users", headers={"Authorization": f"Bearer {admin}"}, timeout=10, json={
        "username": "zj-ops", "password": server.password, "role": "ops", "display_name": "浙江运营",
        "regions": ["330000000000"]})
    assert made.status_code == 201, made.text
    sign_in(page, server, "ops", username="zj-ops")
    page.wait_for_url(re.compile(r"/console/dashboard$"))
    page.get_by_test_id("who").get_by_text("浙江省", exact=False).wait_for()  # the scope by name
    page.get_by_test_id("kpis").wait_for()
    page.get_by_test_id("map-chart").locator("canvas").wait_for()
    page.wait_for_load_state("networkidle")
    # The demo brand sells in Hangzhou (Zhejiang) and Nanjing (Jiangsu): the top stores show Zhejiang's only.
    stores = page.locator(".el-card").filter(has_text="门店").first
    assert "南京" not in stores.inner_text() and "江苏" not in stores.inner_text()
    shot(page, "roles-regional-dashboard")
    # The lists the console reads answer only Zhejiang's rows, though the brand has Jiangsu's too.
    regional = _fetch_as_page(page, "GET", "/api/admin/stores?page_size=100", None)
    everywhere = requests.get(f"{server.url}/api/admin/stores", params={"page_size": 100},
                              headers={"Authorization": f"Bearer {admin}"}, timeout=10).json()
    assert regional["status"] == 200 and regional["body"]
    assert all(store["region_code"].startswith("33") for store in regional["body"])
    assert any(not store["region_code"].startswith("33") for store in everywhere)
    # Screens whose rows can't be split by region are not in the menu, and the page says why.
    assert page.get_by_test_id("menu-webhooks").count() == 0
    page.goto("/console/admin/webhooks")
    forbidden = page.get_by_test_id("forbidden")
    forbidden.wait_for()
    assert "全国" in forbidden.inner_text()
    shot(page, "roles-regional-forbidden-national")


def test_a_role_opening_a_screen_it_may_not_read_is_told_which_roles_may(page, server):
    sign_in(page, server, "marketer")
    page.goto("/console/admin/api-keys")
    forbidden = page.get_by_test_id("forbidden")
    forbidden.wait_for()
    text = forbidden.inner_text()
    assert "管理员" in text and "市场" in text  # the roles needed, and the user's own
    assert page.get_by_test_id("api-keys").count() == 0
    assert page.get_by_test_id("menu-apiKeys").count() == 0
    shot(page, "roles-marketer-forbidden")

"""Administration in the console: an administrator makes a Zhejiang-only user from the region tree, makes
an API key whose secret is shown once and revokes it, opens the failed webhook deliveries the dashboard
links to, reads the audit record of what they just did, and the approvals waiting."""
from __future__ import annotations

import re

from tests.browser.actions import shot, sign_in


def test_an_administrator_manages_users_keys_webhooks_and_reads_the_audit(page, server):
    sign_in(page, server, "admin")
    page.goto("/console/admin/users")
    page.get_by_test_id("create-user").click()
    form = page.get_by_test_id("user-form")
    page.get_by_test_id("user-username").fill("zj-marketer")
    page.get_by_test_id("user-password").fill(server.password)
    page.get_by_test_id("user-display-name").fill("浙江市场")
    form.get_by_text("市场").click()
    page.locator(".el-select[data-test=regions]").click()
    zhejiang = page.locator(".el-tree-node", has_text="浙江省").first
    zhejiang.locator(".el-checkbox").first.click()
    page.keyboard.press("Escape")
    shot(page, "admin-user-form")
    page.get_by_test_id("user-save").click()
    row = page.get_by_test_id("list").locator(".el-table__row", has_text="zj-marketer")
    row.wait_for()
    assert "浙江省" in row.inner_text()
    shot(page, "admin-users")

    page.goto("/console/admin/api-keys")
    page.get_by_test_id("create-key").click()
    page.get_by_test_id("key-name").fill("ERP 正式环境")
    page.get_by_test_id("key-form").get_by_text("销售订单").click()
    page.get_by_test_id("key-save").click()
    secret = page.get_by_test_id("secret")
    secret.wait_for()
    assert re.match(r"mtk_", secret.input_value())
    assert "无法再次查看" in page.get_by_test_id("secret-dialog").inner_text()
    shot(page, "admin-api-key-secret")
    page.get_by_test_id("secret-done").click()
    secret.wait_for(state="hidden")
    row = page.get_by_test_id("list").locator(".el-table__row", has_text="ERP 正式环境")
    row.get_by_test_id("revoke-key").click()
    page.locator(".el-message-box").get_by_role("button", name="吊销").click()
    row.get_by_text("已吊销").wait_for()
    assert row.get_by_test_id("revoke-key").count() == 0

    page.goto("/console/admin/webhooks?status=failed")
    page.get_by_test_id("deliveries").wait_for()
    assert "失败" in page.get_by_test_id("filter-status").inner_text()
    shot(page, "admin-webhook-deliveries-failed")

    page.goto("/console/admin/audit?action=api_key.revoke")
    first = page.get_by_test_id("list").locator(".el-table__row").first
    first.wait_for()
    assert "api_key.revoke" in first.inner_text() and "demo-admin" in first.inner_text()
    first.get_by_test_id("audit-detail").click()
    page.get_by_test_id("audit-changes").wait_for()
    shot(page, "admin-audit-detail")

    page.goto("/console/admin/approvals?status=pending")
    page.get_by_test_id("approvals").locator(".el-table__row, .el-table__empty-text").first.wait_for()
    shot(page, "admin-approvals")

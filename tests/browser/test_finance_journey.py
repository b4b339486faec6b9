"""Finance's journey: a dealer's rebate statement is approved (under dual control: finance asks, an
administrator approves as the second person) and exported to Excel; the file opens with openpyxl and
holds the statement's lines."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import openpyxl
import requests

from app.platform.clock import BUSINESS_TZ as CHINA
from tests.browser.actions import api_token, shot, sign_in


def draft_statement(server) -> dict:
    """The demo has no statement: a rule paying per case its stores received, then the Hangzhou dealer's
    statement for this month (the demo chain's store received a case of it today)."""
    finance = api_token(server, "finance")
    today = datetime.now(CHINA).date()
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    rule = requests.post(f"{server.url}/api/admin/rebate-rules", headers=finance, timeout=10, json={
        "name": "门店收货返利（每箱 5 元）", "basis": "case_to_store", "amount_fen": 500,
        "starts_on": first.isoformat(), "ends_on": last.isoformat()})
    assert rule.status_code == 201, rule.text
    dealers = requests.get(f"{server.url}/api/admin/dealers", params={"external_id": "DEMO-DLR-HZ"}, headers=finance,
                           timeout=10).json()
    statement = requests.post(f"{server.url}/api/admin/rebate-statements", headers=finance, timeout=10, json={
        "dealer_id": dealers[0]["id"], "period_start": first.isoformat(), "period_end": last.isoformat()})
    assert statement.status_code == 200, statement.text
    assert statement.json()["lines"], "the demo's flows should earn the dealer a rebate"
    return statement.json()


def sign_out(page) -> None:
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/console/login"))


def test_finance_approves_a_rebate_statement_and_exports_it_to_excel(page, server, tmp_path):
    statement = draft_statement(server)
    url = f"/console/channel/rebate-statements/{statement['id']}"
    sign_in(page, server, "finance")

    page.get_by_test_id("menu-rebateStatements").click()
    page.wait_for_url(re.compile(r"/console/channel/rebate-statements"))
    row = page.get_by_test_id("list").locator("tr").filter(has_text="草稿").first
    row.wait_for()
    shot(page, "finance-1-statements")

    page.goto(url)
    page.get_by_test_id("statement-lines").wait_for()
    assert page.get_by_test_id("statement-status").inner_text().strip() == "草稿"
    page.get_by_test_id("statement-dealer-name").filter(has_text="杭州市经销商").wait_for()
    assert page.get_by_test_id("statement-total").inner_text().strip() == f"¥{statement['total_fen'] / 100:,.2f}"
    shot(page, "finance-2-statement-review")

    page.get_by_test_id("approve").click()
    box = page.locator(".el-message-box")
    box.wait_for()
    shot(page, "finance-3-approve-confirm")
    box.get_by_role("button", name="确认").click()
    box.wait_for(state="hidden")

    status = page.get_by_test_id("statement-status")
    pending = page.get_by_test_id("pending-approval")
    status.filter(has_text="已审核").or_(pending).wait_for()
    if pending.is_visible():
        # Dual control: finance's approval is a request; the approver may not be its requester.
        assert "demo-finance" in pending.inner_text()
        assert page.get_by_test_id("second-approve").count() == 0
        shot(page, "finance-4-waiting-for-second-person")
        sign_out(page)
        sign_in(page, server, "admin")
        page.goto(url)
        page.get_by_test_id("second-approve").click()
        page.locator(".el-message-box").get_by_role("button", name="确认").click()
        status.filter(has_text="已审核").wait_for()
        page.locator(".el-message-box").wait_for(state="hidden")
        shot(page, "finance-5-second-person-approved")
        sign_out(page)
        sign_in(page, server, "finance")
        page.goto(url)
    status.filter(has_text="已审核").wait_for()
    assert page.get_by_test_id("approve").count() == 0
    shot(page, "finance-6-approved")

    with page.expect_download() as download:
        page.get_by_test_id("export-lines").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(saved).active
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h).split()[-1] for h in rows[0]]
    lines = [dict(zip(header, r)) for r in rows[1:]]
    assert [(r["product_id"], r["quantity"], r["amount_fen"]) for r in lines] == [
        (line["product_id"], line["quantity"], line["amount_fen"] / 100) for line in statement["lines"]]

    approved = requests.get(f"{server.url}/api/admin/rebate-statements/{statement['id']}",
                            headers=api_token(server, "auditor"), timeout=10).json()
    assert approved["status"] == "approved" and approved["total_fen"] == statement["total_fen"]

"""Channel's journey: operations opens a diversion alert, reads its evidence (where the unit was supposed
to go against where it was seen, and the path it took) and resolves it with a note."""
from __future__ import annotations

import re
import subprocess
import sys

import requests

from tests.browser.actions import api_token, shot, sign_in
from tests.browser.live import ROOT


def raise_alert(server, district: str = "110101000000") -> dict:
    """The demo has no diversion: an item of the Hangzhou dealer is seen by a consumer in Beijing (Dongcheng,
    or another district: one alert per item and place)."""
    raised = subprocess.run([sys.executable, "-m", "tests.browser.divert", district], cwd=ROOT, env=server.env, check=True,
                            capture_output=True, text=True, timeout=120).stdout.strip().splitlines()[-1]
    assert int(raised) == 1
    alerts = requests.get(f"{server.url}/api/admin/diversion-alerts", params={"status": "open", "region_code": district},
                          headers=api_token(server, "ops"), timeout=10).json()
    assert alerts, "no open diversion alert to resolve"
    return alerts[0]


def test_operations_opens_a_diversion_alerts_evidence_and_resolves_it(page, server):
    alert = raise_alert(server)
    sign_in(page, server, "ops")

    page.get_by_test_id("menu-diversion").click()
    page.wait_for_url(re.compile(r"/console/channel/diversion"))
    table = page.get_by_test_id("list").first
    row = table.locator("tr").filter(has_text=alert["code"]).first
    row.wait_for()
    assert "待处理" in row.inner_text()
    shot(page, "channel-1-diversion-alerts")

    row.get_by_test_id("detail").click()
    page.wait_for_url(re.compile(rf"/console/channel/diversion/{alert['id']}$"))
    evidence = page.get_by_test_id("evidence")
    evidence.wait_for()
    # Where it should have gone (the Hangzhou dealer and its territory) against where it was seen (Dongcheng).
    assert "杭州市经销商" in page.get_by_test_id("expected-dealer").inner_text()
    evidence.get_by_text("浙江省杭州市").wait_for()  # the dealer's territory, by name
    assert "东城区" in page.get_by_test_id("seen-place").inner_text()
    path = page.get_by_test_id("path").inner_text()
    assert "经销商 #2" in path and "消费者扫码" in path
    assert page.get_by_test_id("alert-status").inner_text().strip() == "待处理"
    shot(page, "channel-2-diversion-evidence")

    page.get_by_test_id("resolve").click()
    box = page.locator(".el-message-box")
    box.wait_for()
    note = "核实：杭州市经销商将货串至北京东城区，已按窜货处罚并追回"
    box.locator("textarea").fill(note)
    shot(page, "channel-3-diversion-resolve-confirm")
    box.get_by_role("button", name="确认").click()
    page.get_by_test_id("alert-status").filter(has_text="已确认").wait_for()
    box.wait_for(state="hidden")
    assert page.get_by_test_id("resolution").inner_text().strip() == note
    assert not page.get_by_test_id("resolve").is_visible()
    shot(page, "channel-4-diversion-resolved")

    closed = requests.get(f"{server.url}/api/admin/diversion-alerts/{alert['id']}", headers=api_token(server, "auditor"),
                          timeout=10).json()
    assert (closed["status"], closed["resolution"], closed["resolved_by"]) == ("resolved", note, "demo-ops")


def test_an_auditor_reads_the_evidence_but_has_no_resolve_button(page, server):
    alert = raise_alert(server, "110102000000")  # Xicheng
    sign_in(page, server, "auditor")
    page.goto(f"/console/channel/diversion/{alert['id']}")
    page.get_by_test_id("evidence").wait_for()
    assert page.get_by_test_id("resolve").count() == 0 and page.get_by_test_id("dismiss").count() == 0

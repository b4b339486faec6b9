"""Every channel and finance screen opens on the demo data without an error, lists its rows, and its
first row's detail opens; a finance user's menu has no invitations (admin and ops only)."""
from __future__ import annotations

import re

import pytest

from tests.browser.actions import shot, sign_in

SCREENS = [
    # (menu route name, path, detail route's path pattern or None)
    ("dealers", "channel/dealers", r"/channel/dealers/\d+$"),
    ("stores", "channel/stores", r"/channel/stores/\d+$"),
    ("invitations", "channel/invitations", r"/channel/invitations/\d+$"),
    ("orders", "channel/orders", None),
    ("shipments", "channel/shipments", r"/channel/shipments/\d+$"),
    ("diversion", "channel/diversion", None),
    ("diversion", "channel/diversion?tab=leaks", None),
    ("rebateStatements", "channel/rebate-statements", None),
    ("payouts", "finance/payouts", r"/finance/payouts/\d+$"),
    ("reconciliation", "finance/reconciliation", None),
    ("reconciliation", "finance/reconciliation?tab=incidents", None),
    ("withdrawals", "finance/withdrawals", None),
    ("exports", "finance/exports", None),
]


@pytest.mark.parametrize(("name", "path", "detail"), SCREENS, ids=[s[1] for s in SCREENS])
def test_an_administrator_opens_each_screen_and_its_first_detail(page, server, name, path, detail):
    sign_in(page, server, "admin")
    page.goto(f"/console/{path}")  # a link with its query opens the screen (not a 422)
    table = page.get_by_test_id("list").first
    table.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id(f"menu-{name}").count() == 1
    shot(page, f"screen-{path.replace('/', '-').replace('?', '-').replace('=', '-')}")
    if detail:
        table.get_by_test_id("detail").first.click()
        page.wait_for_url(re.compile(detail))
        page.locator(".el-page-header").wait_for()
        page.wait_for_load_state("networkidle")
        assert "—" not in page.locator(".page-title").first.inner_text()


def test_finance_sees_its_screens_and_no_invitations(page, server):
    sign_in(page, server, "finance")
    page.get_by_test_id("menu-payouts").wait_for()
    for name in ("dealers", "stores", "diversion", "rebateStatements", "payouts", "reconciliation", "withdrawals", "exports"):
        assert page.get_by_test_id(f"menu-{name}").count() == 1, name
    assert page.get_by_test_id("menu-invitations").count() == 0
    page.goto("/console/channel/dealers")
    page.get_by_test_id("list").wait_for()
    assert page.get_by_test_id("create").count() == 0  # dealers are written by admin and ops

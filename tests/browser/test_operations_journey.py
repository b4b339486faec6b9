"""Operations' journey through the console on the demo data: demo-ops issues a code batch and watches its
export's progress bar finish, downloads the code pack (a real file), and recalls everything made with a
raw-material lot — the reach (dealers and stores the goods passed through) shown before the confirmation,
then the recall's own page with its reach."""
from __future__ import annotations

import re
import zipfile

import requests

from tests.browser.actions import shot, sign_in


def _api(server, role: str):
    token = requests.post(f"{server.url}/api/admin/auth/login", json={"username": f"demo-{role}", "password": server.password},
                          timeout=10).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _raw_lot_used_by_a_lot_in_the_channel(server) -> dict:
    """The demo has no raw-material lots: record one and say a demo production lot with items used it."""
    api, base = _api(server, "ops"), f"{server.url}/api/admin"
    material = api.post(f"{base}/materials", json={"code": "MALT-J1", "name": "大麦芽", "unit": "kg"}, timeout=10)
    supplier = api.post(f"{base}/suppliers", json={"name": "华北麦芽供应商"}, timeout=10)
    assert (material.status_code, supplier.status_code) == (201, 201), (material.text, supplier.text)
    raw = api.post(f"{base}/raw-material-lots", json={
        "lot_no": "RM-J1-0001", "material_id": material.json()["id"], "supplier_id": supplier.json()["id"],
        "quantity": 500, "received_at": "2026-01-05T02:00:00Z", "inspection_result": "passed"}, timeout=10)
    assert raw.status_code == 201, raw.text
    lots = api.get(f"{base}/production-lots", params={"page_size": 100}, timeout=10).json()
    reached = [lot for lot in lots if api.get(f"{base}/trace/lots/{lot['id']}", timeout=10).json()["units"] > 0]
    assert reached, "the demo has no production lot with items"
    lot = reached[0]
    if lot["status"] == "closed":
        assert api.post(f"{base}/production-lots/{lot['id']}/reopen", timeout=10).status_code == 200
    used = api.post(f"{base}/production-lots/{lot['id']}/consumptions",
                    json={"raw_material_lot_id": raw.json()["id"], "quantity": 20}, timeout=10)
    assert used.status_code == 200, used.text
    return raw.json()


def _pick_first(page, select_test_id: str) -> None:
    page.get_by_test_id(select_test_id).click()
    page.locator(".el-select-dropdown__item:visible").first.click()


def test_operations_issues_a_batch_downloads_its_pack_and_recalls_a_raw_material_lot(page, server, tmp_path):
    raw = _raw_lot_used_by_a_lot_in_the_channel(server)
    sign_in(page, server, "ops")

    # Issue a batch: the drawer shows the pack's export, its progress bar runs to done.
    page.goto("/console/operations/code-batches")
    page.get_by_test_id("list").wait_for()
    page.get_by_test_id("issue").click()
    form = page.get_by_test_id("issue-form")
    _pick_first(page, "batch-product")
    form.get_by_test_id("batch-count").locator("input").fill("3000")
    form.get_by_test_id("batch-count").locator("input").press("Tab")
    shot(page, "ops-1-issue-form")
    form.get_by_test_id("issue-submit").click()
    drawer = page.get_by_test_id("batch")
    drawer.get_by_test_id("exports").wait_for()
    progress = drawer.locator("[data-test^=progress-]").first
    progress.wait_for()
    page.wait_for_function("() => document.querySelector('[data-test^=progress-]')?.dataset.status === 'done'", timeout=60000)
    assert progress.get_attribute("aria-valuenow") == "100"
    shot(page, "ops-2-export-done")

    # The audited download: the browser saves a real zip of CSV files.
    with page.expect_download() as download_info:
        drawer.locator("[data-test^=download-]").first.click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename.endswith(".zip") and saved.stat().st_size > 0
    with zipfile.ZipFile(saved) as pack:
        assert any(name.endswith(".csv") for name in pack.namelist())
    shot(page, "ops-3-downloaded")

    # Recall by raw-material lot: from the lot's record, the reach first, then the confirmation.
    page.goto(f"/console/operations/raw-material-lots?lot_no={raw['lot_no']}")
    page.get_by_test_id("list").get_by_text(raw["lot_no"]).wait_for()
    page.locator("[data-test=open]:visible").first.click()
    page.get_by_test_id("recall-raw-lot").click()
    page.wait_for_url(re.compile(r"/console/operations/recalls\?new=raw"))
    dialog = page.get_by_test_id("recall-form")
    reach = dialog.get_by_test_id("reach")
    reach.wait_for()
    units = int(reach.get_by_test_id("reach-units").inner_text().replace(",", ""))
    dealers = int(reach.get_by_test_id("reach-dealers").inner_text())
    assert units > 0
    parties = reach.get_by_test_id("reach-parties").locator("tbody tr")
    assert parties.count() == dealers + int(reach.get_by_test_id("reach-stores").inner_text())
    shot(page, "ops-4-recall-reach-before-confirming")
    dialog.get_by_test_id("recall-reason").fill("原料黄曲霉毒素超标")
    dialog.get_by_test_id("recall-public-notice").fill("请停止食用，凭小票到购买门店退款。")
    dialog.get_by_test_id("recall-submit").click()
    box = page.locator(".el-message-box")
    box.wait_for()
    assert str(units) in box.inner_text().replace(",", "")
    shot(page, "ops-5-recall-confirmation")
    box.locator(".el-message-box__btns .el-button--primary").click()

    page.wait_for_url(re.compile(r"/console/operations/recalls/\d+$"))
    detail = page.get_by_test_id("recall-detail")
    detail.get_by_test_id("reach").wait_for()
    assert int(detail.get_by_test_id("reach-units").inner_text().replace(",", "")) == units
    assert int(detail.get_by_test_id("reach-dealers").inner_text()) == dealers
    detail.get_by_text("原料黄曲霉毒素超标").wait_for()
    assert detail.get_by_test_id("recall-public-notice").inner_text() == "请停止食用，凭小票到购买门店退款。"
    shot(page, "ops-6-recall-reach")
    # The public notice is what a consumer reads on the recalled unit's page: the brand may reword it.
    detail.get_by_test_id("edit-public-notice").click()
    detail.get_by_test_id("public-notice-input").fill("请停止食用，到购买门店或致电品牌客服退货。")
    detail.get_by_test_id("save-public-notice").click()
    detail.get_by_text("请停止食用，到购买门店或致电品牌客服退货。").wait_for()

"""The API answers errors in English; the console shows them in the user's language: the message for the
error's code (with the API's own sentence and the code in small print), and marshmallow's field messages
beside the fields, their numbers kept. After the switch to English, the same form speaks English."""
from __future__ import annotations

from tests.browser.actions import shot, sign_in

BLACKLIST = r"422 POST .*/api/admin/consumer-profiles/blacklist$"


def _submit_bad_entry(page):
    """Open the blacklist's form, type an openid with a space and a 501-character reason, and submit."""
    page.get_by_test_id("blacklist-add").click()
    page.get_by_test_id("blacklist-openid").fill("not an openid!")
    page.get_by_test_id("blacklist-reason").fill("x" * 501)
    with page.expect_response(lambda r: r.url.endswith("/api/admin/consumer-profiles/blacklist")
                              and r.request.method == "POST") as answer:
        page.get_by_test_id("blacklist-save").click()
    assert answer.value.status == 422
    body = answer.value.json()
    assert body["code"] == "validation_failed"
    assert body["errors"]["json"]["openid"] == ["String does not match expected pattern."], body
    assert body["errors"]["json"]["reason"] == ["Longer than maximum length 500."], body
    return body


def _field_error(page, test_id: str) -> str:
    item = page.locator(".el-form-item", has=page.get_by_test_id(test_id))
    error = item.locator(".el-form-item__error")
    error.wait_for()
    return error.inner_text().strip()


def test_a_refused_form_speaks_the_users_language(page, server, watch):
    watch.allow(BLACKLIST)
    sign_in(page, server, "marketer")
    page.goto("/console/marketing/blacklist")
    page.get_by_test_id("list").wait_for()

    body = _submit_bad_entry(page)
    assert _field_error(page, "blacklist-openid") == "格式不正确"
    assert _field_error(page, "blacklist-reason") == "最多 500 个字符"
    toast = page.get_by_test_id("api-error").last
    toast.wait_for()
    assert toast.get_by_test_id("api-error-message").inner_text() == "填写内容有误，请按提示修改。"
    details = toast.get_by_test_id("api-error-details").inner_text()
    assert body["message"] in details and "validation_failed" in details  # the API's words and code for support
    shot(page, "error-language-zh")

    page.get_by_role("button", name="取消").click()
    page.get_by_test_id("lang").click()
    page.get_by_test_id("blacklist-add").get_by_text("Add to blacklist").wait_for()
    _submit_bad_entry(page)
    assert _field_error(page, "blacklist-openid") == "String does not match expected pattern."
    assert _field_error(page, "blacklist-reason") == "Longer than maximum length 500."
    english = page.get_by_test_id("api-error-message").last
    english.wait_for()
    assert english.inner_text() == "The request is not valid; see the message beside each field."
    shot(page, "error-language-en")


def test_a_wrong_password_is_said_in_chinese(page, server, watch):
    watch.allow(r"401 POST .*/api/admin/auth/login")
    page.goto("/console/login")
    page.get_by_test_id("username").fill("demo-marketer")
    page.get_by_test_id("password").fill("not the password")
    page.get_by_test_id("submit").click()
    error = page.get_by_test_id("login-error")
    error.wait_for()
    assert error.inner_text().strip() == "用户名或密码错误。"

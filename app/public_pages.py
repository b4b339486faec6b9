"""The printed URL opened in a browser: a small mobile page with the verdict and what to do next.

Public by design (whoever holds the label may open it). Nothing is recorded and no counters move: the
consumer scan, with its story, counters and campaigns, happens in the consumer mini-program, which a
genuine code's page invites the person to open by scanning the label with WeChat. A code not to be
trusted (forged, never put on a product, voided, scrapped, recalled) gets no invitation: its page says,
in Chinese and then in English, what to do and whom to tell (the brand's contacts, BRAND_SERVICE_PHONE,
BRAND_REPORT_EMAIL and BRAND_REPORT_URL when set, and 12315). The route is added when the blueprint is
registered, with the configured LABEL_PREFIX: GET /<LABEL_PREFIX>/<code>. The GS1 Digital Link form of
the same label (/01/<gtin>/21/<code>) is the resolver's (app.resolver), which shows browsers this page.
"""
from __future__ import annotations

from html import escape

from flask import Response, current_app
from flask_smorest import Blueprint

from app.consumers import errors, service
from app.consumers.models import Verdict
from app.http import public
from app.inputs import open_query

blp = Blueprint("label_pages", __name__, description="The printed URL: a small HTML page for browsers.")

_TITLES = {
    Verdict.GENUINE: ("ok", "正品码 · A genuine code"),
    Verdict.SCANNED_BEFORE: ("ok", "正品码 · A genuine code"),
    Verdict.SUSPECTED_COPY: ("warn", "疑似仿冒 · Suspected copy"),
    Verdict.NOT_COMMISSIONED: ("warn", "此码未投入使用 · Never put on a product"),
    Verdict.FORGED: ("bad", "查无此码 · Not one of our codes"),
    Verdict.VOIDED: ("bad", "此码已作废 · Voided"),
    Verdict.SCRAPPED: ("bad", "产品已报废 · Scrapped"),
    Verdict.RECALLED: ("bad", "产品已召回 · Recalled"),
}

_INVITATION = ("请用微信扫描标签上的二维码，完成验证并参与活动。",
               "Scan the label's QR code with WeChat to verify the product and join campaigns.")
# What a person holding a product not to be trusted should do: Chinese, then English; the contacts follow.
_COUNTERFEIT = ("请勿购买或食用。请保留产品和购物凭证（小票或发票）并举报：",
                "Do not buy or consume it. Keep the product and the receipt or invoice, and report it:")
_STEPS = {
    Verdict.SUSPECTED_COPY: _COUNTERFEIT,
    Verdict.NOT_COMMISSIONED: _COUNTERFEIT,  # a code never put on a product is on one: a leaked code pack
    Verdict.FORGED: _COUNTERFEIT,
    Verdict.VOIDED: _COUNTERFEIT,
    Verdict.SCRAPPED: ("此产品已报废，不应在市场上出售。请勿食用或使用，请保留产品和购物凭证，"
                       "并向品牌方反映购买的门店：",
                       "This product was scrapped and should never have been sold. Do not consume or use it; "
                       "keep it and the receipt, and tell the brand where you bought it:"),
    Verdict.RECALLED: ("请立即停止食用或使用。请保留产品，联系购买的门店或品牌方退货：",
                       "Stop consuming or using it now. Keep it and contact the store where you bought it or "
                       "the brand to return it:"),
}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:-apple-system,"PingFang SC",sans-serif;margin:0;padding:24px;background:#f6f6f6;color:#222}}
.card{{background:#fff;border-radius:12px;padding:20px;max-width:480px;margin:auto}}
h1{{font-size:20px;margin:0 0 12px}} .ok{{color:#1a7f37}} .warn{{color:#b35900}} .bad{{color:#c62828}}
.code{{font-family:monospace;color:#666;word-break:break-all}} .notice{{border-left:3px solid #c62828;padding-left:8px;
white-space:pre-line}} ul{{padding-left:20px}} li{{margin:6px 0}} a{{color:#0b57d0;word-break:break-all}}
</style></head>
<body><div class="card">
<h1 class="{tone}">{title}</h1>
{product}
<p class="code">{code}</p>
{advice}
</div></body></html>
"""


def _contacts() -> str:
    """The places to report to: the brand's configured contacts, then the national consumer line."""
    config = current_app.config
    lines = []
    if config["BRAND_SERVICE_PHONE"]:
        phone = config["BRAND_SERVICE_PHONE"]
        lines.append(f'品牌客服电话 · Brand service line: <a href="tel:{escape(phone.replace(" ", ""))}">'
                     f"{escape(phone)}</a>")
    if config["BRAND_REPORT_EMAIL"]:
        email = escape(config["BRAND_REPORT_EMAIL"])
        lines.append(f'品牌举报邮箱 · Brand e-mail: <a href="mailto:{email}">{email}</a>')
    if config["BRAND_REPORT_URL"]:
        url = escape(config["BRAND_REPORT_URL"])
        lines.append(f'在线举报 · Report online: <a href="{url}">{url}</a>')
    lines.append('全国消费者投诉举报热线 12315 · China\'s consumer complaint line, 12315: '
                 '<a href="https://www.12315.cn/">www.12315.cn</a>')
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def _advice(reading: service.Reading, verdict: Verdict) -> str:
    if verdict not in _STEPS:
        chinese, english = _INVITATION
        return f'<p>{chinese}</p>\n<p lang="en">{english}</p>'
    chinese, english = _STEPS[verdict]
    notice = ""
    if verdict is Verdict.RECALLED:
        text = service.public_recall_notice(recall_id=reading.unit.recall_id)
        if text:
            notice = f'<p class="notice"><b>召回说明 · Recall notice</b>\n{escape(text)}</p>\n'
    return f'{notice}<p>{escape(chinese)}</p>\n<p lang="en">{escape(english)}</p>\n{_contacts()}'


def _render(url: str, code: str) -> Response:
    try:
        reading = service.preview(url)
    except errors.ScanTextInvalid:
        reading = service.Reading(Verdict.FORGED)
    return page(reading, code)


def page(reading: service.Reading, code: str, *, status: int = 200) -> Response:
    """The page of a code's reading (the verdict, what to do next)."""
    verdict = reading.verdict if reading.verdict is not Verdict.SCANNED_BEFORE else Verdict.GENUINE
    tone, title = _TITLES[verdict]
    product = reading.product
    body = _PAGE.format(
        title=escape(title), tone=tone, code=escape(code[:64]),
        product=f"<p>{escape(product.name)}</p>" if product is not None and verdict is not Verdict.FORGED else "",
        advice=_advice(reading, verdict),
    )
    return _html(body, status)


def product_page(*, name: str, specification: str | None, gtin: str) -> Response:
    """A product's information page (the GS1 resolver's gs1:pip): name, specification, GTIN."""
    chinese, english = _INVITATION
    body = _PAGE.format(title=escape(name), tone="ok", code=f"GTIN {escape(gtin)}",
                        product=f"<p>规格 · Specification: {escape(specification or '-')}</p>",
                        advice=f'<p>{chinese}</p>\n<p lang="en">{english}</p>')
    return _html(body, 200)


def _html(body: str, status: int) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _base() -> str:
    return f"https://{current_app.config['LABEL_DOMAIN']}"


@public
@open_query
def short_url(code: str):
    return _render(f"{_base()}/{current_app.config['LABEL_PREFIX']}/{code}", code)


def _add_rules(state) -> None:
    app = state.app
    prefix = str(app.config["LABEL_PREFIX"]).strip("/")
    if prefix in ("api", "docs", "openapi.json", "healthz", "readyz", "01", "00", "gs1", ".well-known", ""):
        raise RuntimeError(f"LABEL_PREFIX {prefix!r} clashes with the app's routes")
    app.add_url_rule(f"/{prefix}/<string:code>", endpoint="label_pages.short_url", view_func=short_url,
                     methods=["GET"])


blp.record_once(_add_rules)

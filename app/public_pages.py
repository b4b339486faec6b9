"""The printed URL opened in a browser: a small mobile page with the verdict and a prompt to open WeChat.

Public by design (whoever holds the label may open it). Nothing is recorded and no counters move: the
consumer scan, with its story, counters and campaigns, happens in the consumer mini-program, which
WeChat opens with the same URL in `q`. The routes are added when the blueprint is registered, with the
configured LABEL_PREFIX: GET /<LABEL_PREFIX>/<code>, GET /01/<gtin>/21/<code> and
GET /01/<gtin>/10/<lot>/21/<code> (GS1 Digital Link).
"""
from __future__ import annotations

from html import escape
from urllib.parse import quote

from flask import Response, current_app
from flask_smorest import Blueprint

from app.consumers import service
from app.consumers.models import Verdict
from app.http import public
from app.inputs import open_query

MINIPROGRAM_PAGE = "pages/scan/index"

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

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:-apple-system,"PingFang SC",sans-serif;margin:0;padding:24px;background:#f6f6f6;color:#222}}
.card{{background:#fff;border-radius:12px;padding:20px;max-width:480px;margin:auto}}
h1{{font-size:20px;margin:0 0 12px}} .ok{{color:#1a7f37}} .warn{{color:#b35900}} .bad{{color:#c62828}}
.code{{font-family:monospace;color:#666;word-break:break-all}} .path{{font-family:monospace;font-size:12px;
color:#888;word-break:break-all}}
</style></head>
<body><div class="card">
<h1 class="{tone}">{title}</h1>
{product}
<p class="code">{code}</p>
<p>请在微信中打开，完成验证并参与活动。<br>Open in WeChat to verify and join campaigns.</p>
<p class="path">{path}</p>
</div></body></html>
"""


def _render(url: str, code: str) -> Response:
    try:
        reading = service.preview(url)
    except service.ScanTextInvalid:
        reading = service.Reading(Verdict.FORGED)
    verdict = reading.verdict if reading.verdict is not Verdict.SCANNED_BEFORE else Verdict.GENUINE
    tone, title = _TITLES[verdict]
    product = reading.product
    body = _PAGE.format(
        title=escape(title), tone=tone, code=escape(code[:64]),
        product=f"<p>{escape(product.name)}</p>" if product is not None and verdict is not Verdict.FORGED else "",
        path=escape(f"{MINIPROGRAM_PAGE}?q={quote(url, safe='')}"),
    )
    response = Response(body, status=200,
                        mimetype="text/html")
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


@public
@open_query
def digital_link(gtin: str, code: str, lot: str | None = None):
    lot_part = f"/10/{lot}" if lot is not None else ""
    return _render(f"{_base()}/01/{gtin}{lot_part}/21/{code}", code)


def _add_rules(state) -> None:
    app = state.app
    prefix = str(app.config["LABEL_PREFIX"]).strip("/")
    if prefix in ("api", "docs", "openapi.json", "healthz", "readyz", "01", "00", ""):
        raise RuntimeError(f"LABEL_PREFIX {prefix!r} clashes with the app's routes")
    app.add_url_rule(f"/{prefix}/<string:code>", endpoint="label_pages.short_url", view_func=short_url,
                     methods=["GET"])
    app.add_url_rule("/01/<string:gtin>/21/<string:code>", endpoint="label_pages.digital_link",
                     view_func=digital_link, methods=["GET"])
    app.add_url_rule("/01/<string:gtin>/10/<string:lot>/21/<string:code>", endpoint="label_pages.digital_link_lot",
                     view_func=digital_link, methods=["GET"])


blp.record_once(_add_rules)

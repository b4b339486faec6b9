"""The back-office console (console/, Vue 3 + Element Plus) served at /console/, and `flask console openapi`.

The console is a client of /api/admin like any other: these routes only hand out its built files.
Hashed assets (``/console/assets/<name>-<hash>.js``) are cached for a year; every other path under
/console/ answers the app's index.html (the console routes in the browser's history mode), which is
never cached, so a new build is picked up on the next load. No console is built: /console/ answers 503
with how to build it (`make run` builds it when its sources are newer than the build).
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Blueprint, Response, current_app, send_from_directory
from flask.cli import AppGroup

from app.extensions import api
from app.http import cacheable, public
from app.inputs import open_query

ROOT = Path(__file__).resolve().parent.parent / "console"
YEAR = 365 * 24 * 3600

blp = Blueprint("console", __name__, url_prefix="/console")

# The page may run only the build's own scripts and talk only to this origin: an injected script (a
# name typed into a form and shown unescaped somewhere) could not load code or send the token kept in
# the browser elsewhere. Styles allow inline ones (Element Plus positions popups with them); images
# allow blob: (a mini-program code fetched with the token) and data:; no page may frame the console.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


def build_dir() -> Path:
    return Path(current_app.config.get("CONSOLE_DIST") or ROOT / "dist")


# Public by design: the console's own files hold no data and no secret; every figure it shows comes
# from /api/admin, which authenticates each call.
@blp.route("/assets/<path:name>")
@public
@cacheable
def asset(name: str):
    response = send_from_directory(build_dir() / "assets", name, max_age=YEAR)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


@blp.route("/", defaults={"path": ""})
@blp.route("/<path:path>")
@public
@cacheable
@open_query  # the screens keep their filters in the URL (?status=...&page=2): a reload or a link must open them
def page(path: str):
    dist = build_dir()
    if path and "/" not in path and (dist / path).is_file():  # favicon and the like, beside index.html
        return send_from_directory(dist, path, max_age=3600)
    if not (dist / "index.html").is_file():
        return Response("The console is not built: run `make run` (or `make console`).\n"
                        "控制台尚未构建：请运行 make run。\n", status=503, mimetype="text/plain",
                        headers={"Retry-After": "60"})
    response = send_from_directory(dist, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(PAGE_HEADERS)
    return response


console = AppGroup("console", help="The back-office web console.")


@console.command("openapi")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def write_openapi(path: str) -> None:
    """Write the OpenAPI document (what /openapi.json serves) to PATH, for the console's typed client."""
    Path(path).write_text(json.dumps(api.spec.to_dict(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
    click.echo(f"wrote {path}")

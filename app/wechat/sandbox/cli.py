"""`flask wechat-sandbox ...`: run a standalone sandbox, and act on a running one over HTTP."""
from __future__ import annotations

import json

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from app.wechat.sandbox import faults

wechat_sandbox = AppGroup("wechat-sandbox", help="The WeChat sandbox (stands in for WeChat and WeChat Pay).")

url_option = click.option("--url", envvar="WECHAT_SANDBOX_URL", show_envvar=True,
                          help="The running sandbox (default: WECHAT_SANDBOX_URL).")


def sandbox_request(url: str | None, method: str, path: str, **kwargs) -> requests.Response:
    """Call a running standalone sandbox; a click error says what went wrong."""
    base = (url or current_app.config.get("WECHAT_SANDBOX_URL") or "").rstrip("/")
    if not base:
        raise click.UsageError("no sandbox URL: pass --url or set WECHAT_SANDBOX_URL "
                               "(the in-process sandbox lives only inside the server's process)")
    try:
        response = requests.request(method, base + path,
                                    timeout=current_app.config["WECHAT_TIMEOUT_SECONDS"], **kwargs)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the sandbox at {base}: {exc}") from exc
    if response.status_code >= 400:
        raise click.ClickException(f"the sandbox answered {response.status_code}: {response.text.strip()}")
    return response


@wechat_sandbox.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=int)
def run(host, port):
    """Serve a standalone sandbox (fresh credentials, in-memory state) until stopped."""
    # The sandbox's app and server, loaded only when it is run (not by every `flask` command).
    from app.wechat.sandbox import PathOnlyLog, create_sandbox_app

    url = f"http://{host}:{port}"
    click.echo(f"WeChat sandbox listening on {url}\n"
               f"  its credentials (generated now): {url}/__sandbox__/credentials\n"
               f"  point Matong at it: WECHAT_SANDBOX_URL={url} (with WECHAT_API_BASE / "
               f"WECHATPAY_API_BASE = sandbox)")
    run_simple(host, port, create_sandbox_app(), threaded=True, request_handler=PathOnlyLog)


@wechat_sandbox.command("fault")
@click.argument("operation")
@click.argument("kind", type=click.Choice(sorted(faults.KINDS)))
@click.option("--times", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--delay", type=float, help="Seconds to stall, for the timeout kind.")
@click.option("--errcode", help="WeChat's errcode / err_code to answer, for the fail kind.")
@url_option
def fault(operation, kind, times, delay, errcode, url):
    """Make the sandbox fail OPERATION (token, jscode2session, transfer_bills.create, callback...)."""
    body = {"operation": operation, "kind": kind, "times": times, "delay": delay,
            "errcode": int(errcode) if errcode and errcode.lstrip("-").isdigit() else errcode}
    click.echo(json.dumps(sandbox_request(url, "POST", "/__sandbox__/faults", json=body).json()))


@wechat_sandbox.command("reset")
@url_option
def reset(url):
    """Forget the sandbox's tokens, sessions, messages, bills and faults (its keys stay)."""
    sandbox_request(url, "POST", "/__sandbox__/reset")
    click.echo("sandbox reset")


# Acting as the user in WeChat (confirm / decline a transfer) belongs to the WeChat Pay part:
# its commands are added to this group below, using sandbox_request() and url_option.


def _user_decides(url: str | None, out_bill_no: str, action: str) -> None:
    answer = sandbox_request(url, "POST", f"/__sandbox__/transfers/{out_bill_no}/{action}").json()
    click.echo(f"{answer['out_bill_no']}: {answer['state']}"
               + (f" ({answer['fail_reason']})" if answer.get("fail_reason") else ""))


@wechat_sandbox.command("confirm")
@click.argument("out_bill_no")
@url_option
def confirm(out_bill_no, url):
    """Act as the user: confirm the transfer bill OUT_BILL_NO (SUCCESS, and the callback goes out)."""
    _user_decides(url, out_bill_no, "confirm")


@wechat_sandbox.command("decline")
@click.argument("out_bill_no")
@url_option
def decline(out_bill_no, url):
    """Act as the user: decline the transfer bill OUT_BILL_NO (FAIL, and the callback goes out)."""
    _user_decides(url, out_bill_no, "decline")

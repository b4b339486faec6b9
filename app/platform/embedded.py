"""The embedded default's background work, run inside the web worker (`make run`; config/gunicorn.py).

Without REDIS_URL the stack is one web process whose Redis and WeChat sandbox live in that process, so a
worker process of its own would pay through a sandbox of its own. The web worker therefore runs, in
daemon threads, what docker-compose runs as worker processes: the payout worker and the webhook worker
(each on the shared loop, app.platform.workers). It also starts the sandbox and, unless WECHATPAY_NOTIFY_URL is
set, points WeChat Pay's callbacks at this server's own notify path, so a transfer the user confirms in
the sandbox is settled by its callback within a second instead of by the next query (every 10 minutes
for a bill waiting for the user). Then it prints where the sandbox is and its transfers page, where a
transfer is confirmed as the user would in WeChat.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)

NOTIFY_PATH = "/api/payouts/wechat/notify"
TRANSFERS_PAGE = "/__sandbox__/transfers"
PAYOUT_INTERVAL_SECONDS = 2.0
WEBHOOK_INTERVAL_SECONDS = 1.0
WEBHOOK_BATCH = 100


def notify_url(bind: str) -> str | None:
    """WeChat Pay's callback URL on this server, from gunicorn's bind (None for a unix socket)."""
    if bind.startswith("unix:"):
        return None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if not host or host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # the sandbox calls from this machine
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or 80}{NOTIFY_PATH}"


@dataclass
class Embedded:
    """What start() set going: the threads, the event that stops them, and the lines it printed."""

    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lines: list[str] = field(default_factory=list)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads after their current step (tests; gunicorn lets them die with the worker)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


def start(app: Flask, *, bind: str, payouts: bool = True, webhooks: bool = True, echo=print) -> Embedded:
    """Wire the sandbox's callbacks to this server, start the worker threads, say where the sandbox is."""
    from app.wechat import runtime

    embedded = Embedded()
    with app.app_context():
        wechat = runtime()
        if wechat.uses_sandbox("WECHATPAY_API_BASE") and not app.config.get("WECHATPAY_NOTIFY_URL"):
            app.config["WECHATPAY_NOTIFY_URL"] = notify_url(bind)
        if wechat.uses_sandbox("WECHATPAY_API_BASE") or wechat.uses_sandbox("WECHAT_API_BASE"):
            sandbox = wechat.sandbox_url()
            embedded.lines += [f"WeChat sandbox:   {sandbox}",
                               f"  confirm a transfer as its user would in WeChat: {sandbox}{TRANSFERS_PAGE}",
                               f"  WeChat Pay callbacks go to: {app.config.get('WECHATPAY_NOTIFY_URL') or 'nowhere'}"]
    if payouts:
        embedded.threads.append(_thread(app, embedded.stop, "payouts-thread", _pay_step, PAYOUT_INTERVAL_SECONDS))
    if webhooks:
        embedded.threads.append(_thread(app, embedded.stop, "webhooks-thread", _deliver_step,
                                        WEBHOOK_INTERVAL_SECONDS))
    names = [thread.name for thread in embedded.threads]
    embedded.lines.append(f"Worker threads:   {', '.join(names) or 'none'}")
    for line in embedded.lines:
        echo(line)
    return embedded


def _pay_step() -> bool:
    from app.payouts import worker

    return bool(worker.work_due().claimed)


def _deliver_step() -> bool:
    from app.webhooks import service

    return service.deliver_due(limit=WEBHOOK_BATCH).attempted >= WEBHOOK_BATCH


def _thread(app: Flask, stop: threading.Event, name: str, step, idle_seconds: float) -> threading.Thread:
    def loop():
        from app.platform import workers

        # The shared worker loop: it outlives an outage of the database, installs no signal handlers (not
        # the main thread) and, under gunicorn, never stops: the thread dies with the web worker.
        with app.app_context():
            workers.run(step, name=name, idle_seconds=idle_seconds, stop=stop)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread

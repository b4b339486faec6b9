"""Benchmark: what the console costs a browser: the bytes of sign-in plus the dashboard, and the time to
the dashboard's first chart, beside a bare static page.

    .venv/bin/python bench/console_load.py [--runs 5]

Serves the app as `make run` does (tests/browser/live.py: the console built when needed, a fresh
embedded database with the demo data, gunicorn on a free port) and a bare static page from a plain
`python -m http.server` on another port, then in Debian's headless Chromium (/usr/bin/chromium):

- bytes: every script and style sheet the browser fetches for the sign-in page, the sign-in and the
  dashboard, each gzipped (level 6, as a proxy in front would send it) and summed. Goal <= 500 KB.
- time: from navigation to the dashboard (signed in already, a fresh browser context each run: no
  cache) until its trend chart's canvas is drawn; beside the time from navigation to the load event
  of the bare page. Median of --runs each, alternating.
"""
from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402
from tests.browser.live import CHROMIUM, FLAGS, free_port, served  # noqa: E402

GOAL_BYTES = 500 * 1024
BARE = "<!doctype html><html><head><meta charset=utf-8><title>bare</title></head><body><p>bare</p></body></html>"


def sign_in(page, server) -> None:
    page.get_by_test_id("username").fill("demo-admin")
    page.get_by_test_id("password").fill(server.password)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("trend-chart").locator("canvas").wait_for()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as var, served(Path(var)) as server, sync_playwright() as playwright:
        bare_dir = Path(var) / "bare"
        bare_dir.mkdir()
        (bare_dir / "index.html").write_text(BARE)
        port = free_port()
        static = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                   "--directory", str(bare_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            playwright.selectors.set_test_id_attribute("data-test")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)

            # Bytes: one cold visit, sign-in page then the dashboard.
            context = browser.new_context(base_url=server.url)
            page = context.new_page()
            sent: dict[str, bytes] = {}

            def keep(response):
                if response.request.resource_type in ("script", "stylesheet") and response.ok:
                    sent[response.url] = response.body()
            page.on("response", keep)
            page.goto("/console/login")
            sign_in(page, server)
            page.wait_for_load_state("networkidle")
            raw = sum(len(body) for body in sent.values())
            zipped = {url: len(gzip.compress(body, 6)) for url, body in sent.items()}
            print(f"\nsign-in + dashboard: {len(sent)} scripts and style sheets, {raw / 1024:,.0f} KB raw, "
                  f"{sum(zipped.values()) / 1024:,.0f} KB gzipped (goal <= {GOAL_BYTES // 1024} KB: "
                  f"{'met' if sum(zipped.values()) <= GOAL_BYTES else 'MISSED'})")
            for url, size in sorted(zipped.items(), key=lambda item: -item[1])[:8]:
                print(f"  {size / 1024:8.1f} KB  {url.rsplit('/', 1)[-1]}")
            state = context.storage_state()
            context.close()

            # Time: dashboard to first chart (signed in, cold cache) vs a bare page's load event.
            dashboard, bare = [], []
            for _ in range(args.runs):
                context = browser.new_context(base_url=server.url, storage_state=state)
                page = context.new_page()
                began = time.perf_counter()
                page.goto("/console/dashboard", wait_until="commit")
                page.get_by_test_id("trend-chart").locator("canvas").wait_for()
                dashboard.append(time.perf_counter() - began)
                context.close()
                context = browser.new_context()
                page = context.new_page()
                began = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/index.html", wait_until="load")
                bare.append(time.perf_counter() - began)
                context.close()
            browser.close()
        finally:
            static.terminate()
    d50, b50 = statistics.median(dashboard) * 1000, statistics.median(bare) * 1000
    print(f"\n{args.runs} runs, cold cache each: dashboard to its first chart median {d50:.0f} ms "
          f"(min {min(dashboard) * 1000:.0f}, max {max(dashboard) * 1000:.0f}); bare static page to load "
          f"median {b50:.0f} ms; ratio {d50 / b50:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

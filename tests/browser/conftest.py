"""Browser tests: the built console in headless Chromium against the real app on the embedded default.

One server for the whole session, started the way `make run` starts it (a fresh SQLite database and
var directory of its own, `flask db upgrade`, `flask demo seed`, gunicorn on a free loopback port), so
the journeys see the demo brand and its played chain. The console is built first (`make console`:
only when its sources are newer than the build).

They run when Debian's chromium is present (`/usr/bin/chromium`, or MATONG_CHROMIUM) and DATABASE_URL
is unset: CI runs them once, on the embedded default. MATONG_BROWSER_TESTS=1 turns a missing browser
into a failure instead of a skip (CI sets it). Every page a test opens is watched: a console error, an
uncaught exception or a failed request (5xx, or a network failure) fails the test unless the test
declares it expected (``watch.allow(...)``). Screenshots go to MATONG_SCREENSHOTS (default
var/screenshots/), one per ``shot(page, name)``.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser.live import CHROMIUM, FLAGS, served


def _why_not() -> str | None:
    if os.environ.get("DATABASE_URL"):
        return "browser tests run once, on the embedded default (DATABASE_URL is set)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not shutil.which("npm"):
        return "no npm to build the console"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_not()
    if reason is None:
        return
    if os.environ.get("MATONG_BROWSER_TESTS") == "1" and not os.environ.get("DATABASE_URL"):
        raise pytest.UsageError(f"MATONG_BROWSER_TESTS=1 but {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with served(tmp_path_factory.mktemp("console-var")) as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        playwright.selectors.set_test_id_attribute("data-test")  # the console marks what tests use
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What went wrong on the pages of one test: console errors, page errors, failed requests."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect problems matching this (e.g. "403 .*/api/admin/campaigns" when a test forces a refusal)."""
        self.allowed.append(re.compile(pattern))

    def note(self, problem: str) -> None:
        self.problems.append(problem)

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]


@pytest.fixture
def watch():
    return Watch()


@pytest.fixture
def context(browser, server, watch):
    context = browser.new_context(base_url=server.url, locale="zh-CN", viewport={"width": 1440, "height": 900},
                                  accept_downloads=True)

    def on_page(page):
        # The browser logs every 4xx/5xx answer as "Failed to load resource" too: those are judged by
        # the response (with its URL), so only other console errors count here. A request aborted by
        # a navigation or by the test closing the page (net::ERR_ABORTED) is not a failure.
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and watch.note(f"console: {m.text}"))
        page.on("pageerror", lambda e: watch.note(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
                and watch.note(f"failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and watch.note(f"{r.status} {r.request.method} {r.url}"))
    context.on("page", on_page)
    yield context
    context.close()
    unexpected = watch.unexpected()
    assert not unexpected, "problems on the pages:\n" + "\n".join(unexpected)


@pytest.fixture
def page(context):
    return context.new_page()

"""What a browser journey does besides clicking: screenshots, signing in through the form, API calls as a role."""
from __future__ import annotations

import os
import re
from pathlib import Path

import requests

from tests.browser.live import ROOT, Server

SCREENSHOTS = Path(os.environ.get("MATONG_SCREENSHOTS", ROOT / "var" / "screenshots"))


def shot(page, name: str) -> Path:
    """A full-page screenshot of the page, saved under SCREENSHOTS as <name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, server: Server, role: str, *, username: str | None = None, password: str | None = None) -> None:
    """Sign in through the form as demo-<role> (or the user given) and wait for the dashboard or first screen."""
    page.goto("/console/login")
    page.get_by_test_id("username").fill(username or f"demo-{role}")
    page.get_by_test_id("password").fill(password or server.password)
    page.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/console/(?!login)"))


def api_token(server, role: str) -> dict:
    """Headers that call the served API as demo-<role>."""
    answer = requests.post(f"{server.url}/api/admin/auth/login", json={"username": f"demo-{role}", "password": server.password},
                           timeout=10)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}

import pytest
import requests

from app.wechat import runtime


@pytest.fixture
def sandbox(app):
    """The in-process WeChat sandbox, reset after the test (tokens, sessions, bills, faults)."""
    server = runtime().sandbox_server()
    yield server
    requests.post(server.url + "/__sandbox__/reset", timeout=5)

"""Log lines an operator can follow (app.platform.logs): a request id per request, echoed, in every JSON log
line, kept on the items a request queues and carried into the worker's lines about them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.payouts import worker
from app.platform import logs
from tests.payout_factories import make_user, prize

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_answers_with_its_id_the_callers_when_it_is_safe(client):
    given = client.get("/healthz", headers={"X-Request-Id": "edge-7f3a.01"})
    assert given.headers["X-Request-Id"] == "edge-7f3a.01"
    made = client.get("/healthz").headers["X-Request-Id"]
    assert len(made) == 32 and made != client.get("/healthz").headers["X-Request-Id"]


@pytest.mark.parametrize("hostile", ["a b", "x" * 65, "id\r\nSet-Cookie: a=b", "<script>", "ünï"])
def test_an_unsafe_request_id_is_replaced(client, hostile):
    try:
        answered = client.get("/healthz", headers={"X-Request-Id": hostile}).headers["X-Request-Id"]
    except ValueError:  # werkzeug refuses to send a header with a newline: nothing to test there
        return
    assert answered != hostile and len(answered) == 32


PROBE = """
import logging
from app import create_app
app = create_app("testing")
log = logging.getLogger("probe")

@app.get("/log-probe")
def probe():
    log.warning("inside %s", "the request")
    return "ok"

app.test_client().get("/log-probe", headers={"X-Request-Id": "probe-42"})
log.warning("outside")
"""


def test_json_log_lines_carry_the_request_id(tmp_path):
    env = {**os.environ, "LOG_FORMAT": "json", "MATONG_ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    env.pop("REDIS_URL", None)
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    inside = next(line for line in lines if line["logger"] == "probe" and line["message"] == "inside the request")
    outside = next(line for line in lines if line["logger"] == "probe" and line["message"] == "outside")
    assert inside["request_id"] == "probe-42" and inside["level"] == "WARNING"
    assert inside["time"].endswith("+00:00")  # UTC
    assert outside["request_id"] == "-"


def test_a_payout_remembers_its_request_and_the_worker_logs_under_it(app, monkeypatch):
    with logs.bound("claim-req-9"):
        queued = prize(make_user())
    untraced = prize(make_user())
    assert queued.request_id == "claim-req-9" and untraced.request_id is None
    seen = {}
    step = worker._step

    def noting(job, moment):
        seen[job.id] = logs.current()
        return step(job, moment)

    monkeypatch.setattr(worker, "_step", noting)
    worker.work_due()
    assert seen == {queued.id: "claim-req-9", untraced.id: None}
    assert logs.current() is None  # nothing leaks past the item

"""/metrics (app.metrics): who may read it, what a request adds to it, the workers' backlogs, a scrape with
Redis down, and several gunicorn workers' counts added up (app.platform.request_metrics)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from app.consumers import scan_log, scan_worker
from app.db import transaction, utcnow
from app.extensions import db, redis
from app.payouts.models import Payout, PayoutStatus
from tests.payout_factories import make_user, prize

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)


def scrape(client) -> dict:
    """{(name, labels as a sorted tuple): value} of one scrape."""
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(client, app, metrics_on, monkeypatch):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "metrics_token_invalid"
    assert "text/plain" not in wrong.content_type
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    off = client.get("/metrics", headers=BEARER)
    assert off.status_code == 404 and off.get_json()["code"] == "not_found"


def test_a_request_is_counted_under_its_endpoint_not_its_path(client, metrics_on):
    before = scrape(client)
    for code in ("AAAA", "BBBB"):  # two paths, one endpoint
        client.get(f"/api/admin/codes/{code}")  # unauthenticated: 401
    client.get("/healthz")
    after = scrape(client)
    endpoints = {dict(labels).get("endpoint") for name, labels in after if name == "matong_http_requests_total"}
    assert not any(endpoint and "AAAA" in endpoint for endpoint in endpoints)
    assert value(after, "matong_http_requests_total", endpoint="health.healthz", method="GET", status="2xx") \
        == value(before, "matong_http_requests_total", endpoint="health.healthz", method="GET", status="2xx") + 1
    counted_401 = [(labels, n - before.get((name, labels), 0)) for (name, labels), n in after.items()
                   if name == "matong_http_requests_total" and dict(labels)["status"] == "4xx"
                   and n - before.get((name, labels), 0) >= 2]
    assert counted_401, "two refused requests of one endpoint, counted under it"
    assert value(after, "matong_http_request_seconds_count", endpoint="health.healthz") \
        == value(before, "matong_http_request_seconds_count", endpoint="health.healthz") + 1


def test_the_backlogs_are_read_when_scraped(client, app, metrics_on):
    user = make_user()
    due, later_one, doubtful = prize(user), prize(user), prize(user)
    with transaction():
        db.session.get(Payout, later_one.id).next_attempt_at = utcnow() + timedelta(hours=1)
        db.session.get(Payout, doubtful.id).status = PayoutStatus.IN_DOUBT
        db.session.get(Payout, due.id).next_attempt_at = utcnow() - timedelta(minutes=5)
    redis.xadd(scan_log.STREAM, {"serial": "1"})
    redis.xadd(scan_log.STREAM, {"serial": "2"})
    redis.rpush(scan_worker.DEAD, "{}")

    samples = scrape(client)

    assert value(samples, "matong_dependency_up", dependency="database") == 1
    assert value(samples, "matong_dependency_up", dependency="redis") == 1
    assert value(samples, "matong_payouts_due") == 2  # the pending one due and the one in doubt, due now
    assert value(samples, "matong_payouts_in_doubt") == 1
    assert value(samples, "matong_payouts_oldest_due_seconds") >= 300
    assert value(samples, "matong_scan_stream_length") == 2
    assert value(samples, "matong_scan_dead_letters") == 1
    assert value(samples, "matong_export_jobs", kind="data", status="queued") == 0


def test_a_scrape_with_redis_down_still_answers(client, app, metrics_on, monkeypatch):
    def down(*args, **kwargs):
        raise redis_lib.ConnectionError("redis down")

    monkeypatch.setattr(redis._get_current_object(), "pipeline", down)
    samples = scrape(client)
    assert value(samples, "matong_dependency_up", dependency="redis") == 0
    assert value(samples, "matong_dependency_up", dependency="database") == 1
    assert ("matong_scan_stream_length", ()) not in samples
    assert ("matong_payouts_due", ()) in samples


WORKER = """
import os, sys
from app.platform import request_metrics
request_metrics.REQUESTS.labels("consumer.scan", "POST", "2xx").inc(int(sys.argv[1]))
request_metrics.POOL_IN_USE.inc(int(sys.argv[1]))
"""


def test_several_workers_counts_are_added_up(tmp_path):
    # As under gunicorn: each process writes its own files, a scrape in a third one reads them all.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "MATONG_ENV": "testing"}
    for n in ("3", "4"):
        subprocess.run([sys.executable, "-c", WORKER, n], env=env, cwd=ROOT, check=True)
    read = ("from prometheus_client import generate_latest\n"
            "from app.platform import request_metrics\n"
            "print(generate_latest(request_metrics.registry()).decode())")
    out = subprocess.run([sys.executable, "-c", read], env=env, cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert value(samples, "matong_http_requests_total", endpoint="consumer.scan", method="POST", status="2xx") == 7
    assert value(samples, "matong_db_pool_in_use") == 7  # both processes are alive: their gauges add up

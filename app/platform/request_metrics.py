"""Request rates, latencies and connection-pool use, for the operator's Prometheus (app.metrics serves them).

Under gunicorn every worker process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set (the served
stack: config/gunicorn.py sets it and clears it at start-up) they write to files there and a scrape adds them
up, whichever worker answers it. Without it (the embedded default, the tests) they live in this process.

A request is labelled by its endpoint (the view's name, never the path: a path holds ids), its method and
its status class. Nothing here talks to the database or Redis: counting costs a few microseconds.
"""
from __future__ import annotations

import os
import time

from flask import Flask, g, request
from sqlalchemy import event
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client import REGISTRY as PROCESS_REGISTRY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("matong_http_requests", "HTTP requests answered, by endpoint, method and status class",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("matong_http_request_seconds", "Time to answer an HTTP request, by endpoint",
                    ["endpoint"], buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
POOL_IN_USE = Gauge("matong_db_pool_in_use", "Database connections checked out of the pools",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("matong_db_pool_capacity", "Connections the pools may open (size + overflow)",
                  multiprocess_mode="livesum")


def init_app(app: Flask, engine) -> None:
    """Time and count every request of the app; follow the engine's pool (a preloading gunicorn master
    serves nothing: its workers count their pools' capacity as they start, ``worker_started``)."""
    app.before_request(_start)
    app.after_request(_count)
    watch_pool(engine)
    if not os.environ.get(MULTIPROC_ENV):
        count_capacity(engine)


def _start() -> None:
    g.request_started = time.perf_counter()


def _count(response):
    started = g.get("request_started")
    endpoint = request.endpoint or "unmatched"  # a 404 has no endpoint: one label for them all
    REQUESTS.labels(endpoint, request.method, f"{response.status_code // 100}xx").inc()
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def watch_pool(engine) -> None:
    """Count the engine's connections in use as they are checked out and in."""
    event.listen(engine, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: POOL_IN_USE.dec())


def count_capacity(engine) -> None:
    """Add this process's pool capacity (a pool without a size, SQLite's, adds nothing)."""
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.inc(size() + max(getattr(engine.pool, "_max_overflow", 0), 0))


def worker_started(engine) -> None:
    """gunicorn's post_worker_init: the forked worker counts its own pool's capacity."""
    count_capacity(engine)


def registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files under PROMETHEUS_MULTIPROC_DIR, else this process."""
    if os.environ.get(MULTIPROC_ENV):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return PROCESS_REGISTRY


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: a dead worker's live gauges (pool use) stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)

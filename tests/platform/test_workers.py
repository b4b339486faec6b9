"""The one worker loop (app.platform.workers): it outlives an outage of the database or Redis, backs off, carries on
when the server is back, stops on SIGTERM between two steps and keeps a liveness file fresh."""
from __future__ import annotations

import logging
import os
import signal
import threading

import pytest
import sqlalchemy as sa

from app.platform import workers
from app.extensions import db, redis


def fast(step, **kwargs):
    """Run the loop with pauses of milliseconds, so a test waits out an outage at once."""
    kwargs.setdefault("idle_seconds", 0)
    return workers.run(step, name=kwargs.pop("name", "test-worker"), first_backoff=0.01, max_backoff=0.04, **kwargs)


@pytest.mark.parametrize("dependency", ["database", "redis"])
def test_a_worker_waits_out_an_outage_and_works_when_the_server_is_back(app, outage, caplog, dependency):
    getattr(outage, dependency)()
    tries, worked, stop = [], [], threading.Event()

    def step():
        tries.append(1)
        if len(tries) == 5:
            outage.end()  # the server is back
        db.session.execute(sa.text("SELECT 1"))  # the drivers' own errors while it is away
        worked.append(redis.incr("worker:test"))
        if len(worked) == 3:
            stop.set()
        return True

    with caplog.at_level(logging.INFO, logger="app.platform.workers"):
        done = fast(step, stop=stop)

    assert len(tries) == 7 and done == 3 and worked == [1, 2, 3]
    pauses = [record.args[-1] for record in caplog.records if "unavailable" in record.getMessage()]
    assert pauses == [0.01, 0.02, 0.04, 0.04]  # growing, capped
    assert any("working again after 4 failed tries" in record.getMessage() for record in caplog.records)


def test_a_bug_in_a_step_is_logged_and_the_worker_goes_on(app, caplog):
    tries, stop = [], threading.Event()

    def step():
        tries.append(1)
        if len(tries) == 1:
            raise KeyError("a bug")
        stop.set()
        return False

    with caplog.at_level(logging.ERROR, logger="app.platform.workers"):
        assert fast(step, stop=stop) == 1
    assert any(record.exc_info for record in caplog.records)


def test_run_once_waits_out_an_outage_but_lets_a_bug_through(app, outage):
    outage.database()
    tries = []

    def step():
        tries.append(1)
        if len(tries) == 3:
            outage.end()
        return db.session.scalar(sa.text("SELECT 1")) != 1  # nothing more to do

    assert fast(step, once=True) == 1 and len(tries) == 3
    with pytest.raises(KeyError):
        fast(lambda: {}["missing"], once=True)


def test_sigterm_stops_the_worker_between_two_steps(app):
    steps = []

    def step():
        steps.append(1)
        os.kill(os.getpid(), signal.SIGTERM)  # as `docker stop` does
        return True  # more waiting: only the signal stops it

    previous = signal.getsignal(signal.SIGTERM)
    assert fast(step) == 1 and steps == [1]
    assert signal.getsignal(signal.SIGTERM) is previous


def test_the_liveness_file_is_touched_while_working_and_while_waiting(app, outage):
    path = workers.heartbeat_path("test-worker")
    path.unlink(missing_ok=True)
    outage.database()
    seen, stop = [], threading.Event()

    def step():
        seen.append(path.exists())
        if len(seen) == 2:
            stop.set()
        db.session.execute(sa.text("SELECT 1"))
        return True

    fast(step, stop=stop)
    assert seen == [True, True]


# --- every worker command runs the loop ----------------------------------------------------------------

WORKERS = [  # the command, the function its step calls first, the dependency that function meets first
    (["payouts", "work"], "app.payouts.worker", "work_due", "database"),
    (["webhooks", "work"], "app.webhooks.service", "deliver_due", "database"),
    (["codes", "work"], "app.codes.export_jobs", "recover_stale_exports", "database"),
    (["consumers", "persist-scans"], "app.consumers.scan_worker", "persist", "redis"),
]


@pytest.mark.parametrize("args, module, name, dependency", WORKERS, ids=[" ".join(w[0]) for w in WORKERS])
def test_every_worker_command_outlives_an_outage(app, outage, monkeypatch, args, module, name, dependency):
    import importlib

    target = importlib.import_module(module)
    real, tries, after = getattr(target, name), [], []

    def step(*a, **kw):
        tries.append(1)
        if len(tries) == 4:
            outage.end()
        result = real(*a, **kw)  # fails with the driver's error while the server is away
        after.append(result)
        os.kill(os.getpid(), signal.SIGTERM)  # worked once after the outage: stop
        return result

    monkeypatch.setattr(target, name, step)
    monkeypatch.setitem(app.config, "WORKER_MAX_BACKOFF_SECONDS", 0)
    getattr(outage, dependency)()

    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code == 0, (result.output, result.exception)
    assert len(tries) == 4 and len(after) == 1

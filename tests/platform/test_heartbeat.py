"""Worker liveness: each worker loop beats; the health check and `flask workers alive` read the age."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.platform import heartbeat

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def beats(app, monkeypatch, tmp_path):
    """A heartbeat folder of this test's own, as the worker (its settings) and its health check (the
    environment) both see it."""
    folder = tmp_path / "heartbeats"
    monkeypatch.setenv("WORKER_HEARTBEAT_DIR", str(folder))
    monkeypatch.setitem(app.config, "WORKER_HEARTBEAT_DIR", str(folder))
    return folder


def make_old(folder: Path, name: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder / name, (then, then))


def test_a_worker_that_beat_lately_is_alive(beats):
    heartbeat.beat("payouts")
    alive, message = heartbeat.check("payouts", max_age=120)
    assert alive, message
    assert heartbeat.age("payouts") < 5


def test_a_worker_that_never_beat_is_not_alive(beats):
    alive, message = heartbeat.check("payouts", max_age=120)
    assert not alive
    assert "no heartbeat" in message


def test_a_worker_whose_loop_stopped_is_not_alive(beats):
    heartbeat.beat("webhooks")
    make_old(beats, "webhooks", 300)
    alive, message = heartbeat.check("webhooks", max_age=120)
    assert not alive
    assert "300 s ago" in message


def test_a_busy_loop_writes_its_heartbeat_at_most_every_few_seconds(beats):
    heartbeat.beat("scans", force=True)
    make_old(beats, "scans", 3)
    heartbeat.beat("scans")  # within MIN_INTERVAL_SECONDS of the last write: not written again
    assert heartbeat.age("scans") >= 3
    heartbeat.beat("scans", force=True)
    assert heartbeat.age("scans") < 3


def test_a_worker_name_cannot_leave_the_heartbeat_folder(beats):
    with pytest.raises(ValueError):
        heartbeat.beat("../../etc/cron.d/x")


def run_health_check(name: str, beats: Path) -> subprocess.CompletedProcess:
    """The command docker-compose.yml runs as a worker's health check."""
    return subprocess.run([sys.executable, "-m", "app.platform.heartbeat", "--name", name, "--max-age", "120"],
                          cwd=ROOT, env={**os.environ, "WORKER_HEARTBEAT_DIR": str(beats)},
                          capture_output=True, text=True, timeout=60)


def test_the_container_health_check_passes_only_while_the_worker_beats(beats):
    assert run_health_check("codes", beats).returncode == 1
    heartbeat.beat("codes", force=True)
    assert run_health_check("codes", beats).returncode == 0
    make_old(beats, "codes", 600)
    stale = run_health_check("codes", beats)
    assert stale.returncode == 1
    assert "its loop has stopped" in stale.stderr


def test_flask_workers_alive_says_whether_the_worker_beats(app, beats):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["workers", "alive", "--name", "daily"]).exit_code == 1
    assert runner.invoke(args=["workers", "beat", "--name", "daily"]).exit_code == 0
    result = runner.invoke(args=["workers", "alive", "--name", "daily", "--max-age", "60"])
    assert result.exit_code == 0, result.output
    assert "alive" in result.output


@pytest.mark.parametrize("command, name", [
    (["payouts", "work", "--once"], "payouts"),
    (["webhooks", "work", "--once"], "webhooks"),
    (["codes", "work", "--once"], "codes"),
    (["consumers", "persist-scans", "--once"], "persist-scans"),
])
def test_each_worker_loop_beats(app, beats, command, name):
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 0, result.output
    assert heartbeat.check(name, max_age=120)[0]

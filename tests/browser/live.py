"""The app served as `make run` serves it, for the browser tests and bench/console_load.py: a fresh
SQLite database and var directory of its own, migrated, demo data seeded, gunicorn on a free loopback
port; and how Debian's Chromium is started here."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MATONG_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium calls out at start and this machine's closed network
# refuses it; --no-sandbox because CI runs as root.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    password: str
    env: dict

    def flask(self, *args: str) -> str:
        """Run a `flask ...` command against this server's database; its output."""
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True, timeout=300).stdout


@contextmanager
def served(var: Path):
    """Build the console if needed, seed a fresh embedded database in ``var`` and serve it; yields a Server."""
    subprocess.run(["make", "-s", "console"], cwd=ROOT, check=True, timeout=900)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MATONG_ENV"}}
    env.update(FLASK_APP="wsgi", MATONG_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{var}/matong.db",
               CODE_EXPORT_DIR=str(var / "exports"), WORKER_HEARTBEAT_DIR=str(var / "heartbeats"),
               BIND=f"127.0.0.1:{port}", GUNICORN_THREADS="8")
    server = Server(url=f"http://127.0.0.1:{port}", password="", env=env)
    server.flask("db", "upgrade")
    server.flask("demo", "seed", "--base-url", server.url)
    server.password = server.flask("demo", "password").strip().splitlines()[-1]
    with open(var / "gunicorn.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "wsgi:app"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(server.url, process, var / "gunicorn.log")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(url: str, process, log: Path) -> None:
    for _ in range(120):
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")

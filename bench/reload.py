"""A graceful reload under load: gunicorn (config/gunicorn.py) answers every request while its workers are
recycled twice (HUP), and as fast as before.

    python bench/reload.py              # the embedded default: SQLite in a temporary folder, in-process Redis
    python bench/reload.py --servers    # DATABASE_URL and REDIS_URL from the environment (MariaDB + Redis)

Clients (threads, a new connection per request, as a proxy without keep-alive sends them) call GET /readyz
(a database round trip and a Redis ping) and POST /api/admin/auth/login with a wrong password (a write
path: 401) without pause. After a quiet phase, the master gets HUP, then HUP again; the figures before the
first HUP and from it until the second's new workers have served for a while are printed: requests, errors
(a refused or reset connection, a 5xx), p50 and p99.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine  # noqa: E402

PORT = 8765


def request(path: str, body: dict | None = None) -> tuple[float, str]:
    """(seconds, outcome): the status, or the error's name when the connection failed."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        if body is None:
            connection.request("GET", path, headers={"Connection": "close"})
        else:
            connection.request("POST", path, body=json.dumps(body),
                               headers={"Connection": "close", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        outcome = str(response.status)
    except (OSError, http.client.HTTPException) as error:
        outcome = type(error).__name__
    finally:
        connection.close()
    return time.perf_counter() - started, outcome


def load(stop: threading.Event, samples: list, client: int) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        if n % 2:
            seconds, outcome = request("/readyz")
        else:
            seconds, outcome = request("/api/admin/auth/login",
                                       {"username": f"nobody{client}", "password": "not the password"})
        samples.append((time.monotonic(), seconds, outcome))


def wait_until_up(deadline: float) -> None:
    while time.monotonic() < deadline:
        if request("/healthz")[1] == "200":
            return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not come up")


def figures(label: str, samples: list) -> str:
    if not samples:
        return f"  {label:<22}no requests"
    latencies = sorted(seconds for _, seconds, _ in samples)
    errors = [outcome for _, _, outcome in samples if not outcome.isdigit() or outcome.startswith("5")]
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[-1] if len(latencies) > 1 else latencies[0]
    kinds = ", ".join(f"{kind} {errors.count(kind)}" for kind in sorted(set(errors)))
    return (f"  {label:<22}{len(samples):6d} requests   errors {len(errors)}{f' ({kinds})' if kinds else ''}   "
            f"p50 {statistics.median(latencies) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", action="store_true", help="use DATABASE_URL and REDIS_URL")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--quiet-seconds", type=float, default=8.0)
    parser.add_argument("--reload-gap", type=float, default=4.0, help="seconds between the two HUPs")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory(prefix="matong-reload-")
    env = {**os.environ, "FLASK_APP": "wsgi", "MATONG_ENV": "development", "BIND": f"127.0.0.1:{PORT}",
           "WORKER_HEARTBEAT_DIR": f"{folder.name}/heartbeat", "CODE_EXPORT_DIR": f"{folder.name}/exports"}
    if args.servers:
        if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
            raise SystemExit("--servers needs DATABASE_URL and REDIS_URL")
        env.setdefault("WEB_CONCURRENCY", "2")
    else:
        env.pop("REDIS_URL", None)
        env["DATABASE_URL"] = f"sqlite:///{folder.name}/reload.db"
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = open(f"{folder.name}/gunicorn.log", "w")
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-c", "config/gunicorn.py", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(time.monotonic() + 60)
        print(machine())
        print(f"gunicorn, config/gunicorn.py, {'MariaDB + Redis' if args.servers else 'embedded default'}, "
              f"{args.clients} clients")
        stop, samples = threading.Event(), []
        clients = [threading.Thread(target=load, args=(stop, samples, i)) for i in range(args.clients)]
        for client in clients:
            client.start()
        time.sleep(1.0)  # warm-up, not counted
        quiet_from = time.monotonic()
        time.sleep(args.quiet_seconds)
        first_hup = time.monotonic()
        server.send_signal(signal.SIGHUP)
        time.sleep(args.reload_gap)
        server.send_signal(signal.SIGHUP)
        time.sleep(args.reload_gap)
        reload_until = time.monotonic()
        stop.set()
        for client in clients:
            client.join()
        before = [s for s in samples if quiet_from <= s[0] < first_hup]
        during = [s for s in samples if first_hup <= s[0] < reload_until]
        print(figures("before the reloads", before))
        print(figures("during two HUPs", during))
        if server.poll() is not None:
            print(f"gunicorn exited ({server.returncode})")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        errors = [line for line in Path(f"{folder.name}/gunicorn.log").read_text().splitlines()
                  if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line]
        print(f"  gunicorn log: {len(errors)} error line(s)")
        for line in errors[:10]:
            print(f"    {line}")
        folder.cleanup()


if __name__ == "__main__":
    main()

"""Worker liveness: a worker's loop touches a file of its own each round; a health check reads its age.

A file, not Redis or the database: a worker that waits out a database or Redis outage is alive (it
backs off and carries on), so its health check must not fail because of the dependency it waits for,
and a restart would not bring that dependency back. What the check catches is a loop that stopped:
the process died, hung, or stopped calling ``beat``.

The health check runs as ``python -m app.platform.heartbeat --name NAME --max-age SECONDS`` (no app is
built: it is cheap enough to run every 30 s); people use ``flask workers alive``, which says the same.
Files live in WORKER_HEARTBEAT_DIR (default ``var/heartbeats``), one per worker name, in the
container of that worker.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import time
from pathlib import Path

from config import ROOT, env

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A loop that beats every round writes at most this often (an idle loop turns every half second).
MIN_INTERVAL_SECONDS = 5.0

_written: dict[tuple[Path, str], float] = {}  # (directory, name) -> monotonic time of the last write


def directory() -> Path:
    """Where heartbeats are kept: WORKER_HEARTBEAT_DIR, else var/heartbeats."""
    return Path(env("WORKER_HEARTBEAT_DIR", str(ROOT / "var" / "heartbeats")))


def path(name: str, *, folder: Path | None = None) -> Path:
    """The liveness file of the worker `name`."""
    return _path(name, folder)


def _path(name: str, folder: Path | None) -> Path:
    if not NAME.match(name):
        raise ValueError(f"a worker name is lower-case letters, digits, - and _; got {name!r}")
    return (folder or directory()) / name


def beat(name: str, *, folder: Path | None = None, force: bool = False) -> None:
    """Say that the worker `name` has just been round its loop (written at most every MIN_INTERVAL_SECONDS)."""
    path = _path(name, folder)
    key, now = (path.parent, name), time.monotonic()
    last = _written.get(key)
    if not force and last is not None and now - last < MIN_INTERVAL_SECONDS:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{name}.{os.getpid()}")
    temporary.write_text(f"{socket.gethostname()} pid {os.getpid()} at {time.time():.0f}\n")
    os.replace(temporary, path)  # a reader sees the old file or the new one, never half of one
    _written[key] = now


def age(name: str, *, folder: Path | None = None) -> float | None:
    """Seconds since the worker last beat; None when it never has (in this folder)."""
    try:
        return max(0.0, time.time() - _path(name, folder).stat().st_mtime)
    except FileNotFoundError:
        return None


def check(name: str, *, max_age: float, folder: Path | None = None) -> tuple[bool, str]:
    """(alive, what to print): alive when the worker beat within max_age seconds."""
    seconds = age(name, folder=folder)
    if seconds is None:
        return False, f"{name}: no heartbeat in {folder or directory()} (not started, or never went round its loop)"
    if seconds > max_age:
        return False, f"{name}: last heartbeat {seconds:.0f} s ago (more than {max_age:g} s): its loop has stopped"
    return True, f"{name}: alive (last heartbeat {seconds:.0f} s ago)"


def main(argv: list[str] | None = None) -> int:
    """The container health check: exit 0 when the worker is alive, 1 (saying why) when not."""
    parser = argparse.ArgumentParser(prog="python -m app.platform.heartbeat", description=main.__doc__)
    parser.add_argument("--name", required=True, help="the worker's name (payouts, webhooks, codes, exports, scans, daily)")
    parser.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")
    args = parser.parse_args(argv)
    alive, message = check(args.name, max_age=args.max_age)
    print(message, file=sys.stdout if alive else sys.stderr)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())

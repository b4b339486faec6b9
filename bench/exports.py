"""Benchmark: a 1,000,000-row back-office list exported through the job path, in constant memory.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/exports.py --rows 1000000 --formats xlsx,csv

MariaDB/MySQL only (it refuses SQLite). The database is WIPED and migrated to head: give it a
database of its own (its name must contain "bench", or pass --wipe; --reuse keeps the rows of a
previous run). Untimed set-up: an admin, 1,000
consumers, and --rows consumer scans written in bulk (Core executemany, not through the API).

Then, per format: ``GET /api/admin/consumer-scans?format=...`` through the Flask test client answers 202
with a queued job (EXPORT_RUNNER=worker); the job runs in this process as `flask exports work` runs it
(service.run_queued), while a second thread reads the job's progress from the database every
--every seconds and prints it beside the elapsed time and the process's resident memory. Printed: the
peak RSS of the export (the kernel's high-water mark, reset before it starts) when it passes 100,000
rows and at the end, rows/s of wall clock and per CPU second of this process (the job's thread and
the watcher; a shared machine's wall clock says more about its neighbours), and the file's size.
Constant memory: the two peaks stay close.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import development_app, machine, may_wipe_bench_database, wipe_and_migrate

INSERT_CHUNK = 20_000
MILESTONE = 100_000


def memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB (/proc/self/status VmRSS, VmHWM)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount = line.split(":")
            values[name] = int(amount.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds() -> float:
    """CPU time of this process (user + system): on a shared machine, steadier than the wall clock."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_peak() -> bool:
    """Reset the kernel's high-water mark of this process's RSS (Linux >= 4.0), so a peak is the export's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def seed(rows: int) -> None:
    import sqlalchemy as sa

    from app.accounts.models import AppUser, Person
    from app.consumers.models import ConsumerScan
    from app.extensions import db

    with db.engine.begin() as conn:
        conn.execute(sa.insert(Person), [{"created_at": datetime.now(timezone.utc)} for _ in range(1000)])
        people = conn.scalars(sa.select(Person.id)).all()
        conn.execute(sa.insert(AppUser), [{"app": "consumer", "openid": f"o-bench-{i:06d}", "person_id": p,
                                           "nickname": f"用户{i}", "status": "active"} for i, p in enumerate(people)])
        users = conn.scalars(sa.select(AppUser.id)).all()
    verdicts = ["genuine", "scanned_before", "suspected_copy", "forged"]
    regions = ["110101000000", "330106000000", "440305000000", None]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(13)
    done, began = 0, time.perf_counter()
    while done < rows:
        n = min(INSERT_CHUNK, rows - done)
        batch = [{"serial": 10_000_000 + done + i, "code": f"C{done + i:012d}", "app_user_id": rng.choice(users),
                  "verdict": rng.choice(verdicts), "scan_number": 1 + (done + i) % 3,
                  "hidden_code_ok": None if i % 2 else True, "product_id": 1 + i % 20, "lot_id": 1 + i % 50,
                  "latitude": 30.0 + rng.random(), "longitude": 120.0 + rng.random(),
                  "region_code": regions[i % 4], "ip": "10.0.0.1",
                  "scanned_at": start + timedelta(seconds=done + i)} for i in range(n)]
        with db.engine.begin() as conn:
            conn.execute(sa.insert(ConsumerScan), batch)
        done += n
    print(f"seeded {rows:,} consumer scans in {time.perf_counter() - began:.1f} s")


def seeded(rows: int) -> bool:
    """Whether a previous run left exactly this many consumer scans (and its admin) behind."""
    import sqlalchemy as sa

    from app.consumers.models import ConsumerScan
    from app.extensions import db

    try:
        return db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan)) == rows
    except sa.exc.DBAPIError:
        db.session.rollback()
        return False


def export(client, headers, fmt: str, every: float, app) -> None:
    import sqlalchemy as sa

    from app.exports import service
    from app.exports.models import DataExportJob
    from app.extensions import db

    response = client.get(f"/api/admin/consumer-scans?format={fmt}", headers=headers)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    print(f"\n{fmt}: job {job['id']} {job['status']}, rows_total {job['rows_total']:,}", flush=True)
    print(f"  {'elapsed':>8}  {'rows_done':>10}  {'rows/s':>8}  {'RSS MB':>7}  {'peak MB':>7}")
    reset_peak()
    began, cpu_began = time.perf_counter(), cpu_seconds()
    done = threading.Event()
    at_milestone: list[float] = []

    def watch():
        with app.app_context():
            while not done.wait(every):
                rows_done = db.session.scalar(sa.select(DataExportJob.rows_done).where(DataExportJob.id == job["id"]))
                db.session.rollback()
                elapsed = time.perf_counter() - began
                rss, peak = memory_mb()
                if rows_done >= MILESTONE and not at_milestone:
                    at_milestone.append(peak)
                print(f"  {elapsed:7.1f}s  {rows_done:>10,}  {rows_done / elapsed:8,.0f}  {rss:7.1f}  {peak:7.1f}",
                      flush=True)
            db.session.remove()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert service.run_queued() == 1
    elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu_began
    done.set()
    watcher.join()
    finished = db.session.get(DataExportJob, job["id"], populate_existing=True)
    rss, peak = memory_mb()
    assert finished.status.value == "done", finished.error
    print(f"  done: {finished.rows_done:,} rows in {elapsed:.1f} s ({finished.rows_done / elapsed:,.0f} rows/s), "
          f"{cpu:.1f} s of CPU in this process ({finished.rows_done / cpu:,.0f} rows per CPU second), "
          f"file {finished.file_size / 2**20:.1f} MB; load average {os.getloadavg()[0]:.1f}")
    print(f"  peak RSS of the export: {at_milestone[0] if at_milestone else float('nan'):.1f} MB at "
          f"{MILESTONE:,} rows, {peak:.1f} MB at {finished.rows_done:,} rows")
    Path(finished.file_path).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between progress lines")
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the rows a previous run seeded, when there are --rows of them")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2

    # Every export of the bench takes the job path, however few its rows.
    app = development_app(EXPORT_RUNNER="worker", EXPORT_INLINE_MAX_ROWS="0",
                          EXPORT_MAX_ROWS=str(max(args.rows, 1_000_000)))
    import sqlalchemy as sa

    from app.db import transaction
    from app.exports import service
    from app.extensions import db
    from app.identity import service as identity
    from app.identity.models import Role
    from app.identity.service import Actor

    print(machine())
    service.PROGRESS_SECONDS = 1.0
    with app.app_context():
        if not (args.reuse and seeded(args.rows)):
            wipe_and_migrate(sa.MetaData())
            with transaction():
                identity.create_user(actor=Actor.system("bench"), username="bench-admin",
                                     password="bench password 1", role=Role.ADMIN)
            seed(args.rows)
        # Jobs of an earlier run stopped halfway would be taken up again (as a dead worker's are) first.
        from app.exports.models import DataExportJob
        with transaction():
            db.session.execute(sa.delete(DataExportJob))
        client = app.test_client()
        token = client.post("/api/admin/auth/login", json={"username": "bench-admin",
                                                            "password": "bench password 1"}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        rss, _ = memory_mb()
        print(f"RSS before the exports: {rss:.1f} MB")
        for fmt in args.formats.split(","):
            export(client, headers, fmt, args.every, app)
    return 0


if __name__ == "__main__":
    sys.exit(main())

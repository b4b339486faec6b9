"""Benchmark: issue and export N item codes; compare the export with the bare code loop.

    .venv/bin/python bench/issue_codes.py                        # 1M and 10M codes, 3 runs each
    .venv/bin/python bench/issue_codes.py --count 10000000 --runs 5 --hidden-digits 8

Each size runs in a fresh process (so its peak RSS is its own) against a temporary SQLite
database migrated to head. Per run it times (1) the bare loop: computing the N code strings
(with the hidden codes when the batch has them) and nothing else, (2) issuing the batch
(one row, O(1)), (3) the full export job: the zip of CSV
files on disk, with its progress updates and SHA-256. It prints medians and the export/bare ratio
(the median of each run's ratio: runs are paired, which a noisy shared machine needs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, development_app, machine, peak_rss_mb

TARGET_RATIO = 1.5


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(count: int, runs: int, hidden_digits: int | None, file_rows: int,
            keep_switch_interval: bool = False) -> dict:
    """One size, in this process: returns the figures as a dict."""
    tmp = tempfile.TemporaryDirectory(prefix="matong-bench-")
    app = development_app(
        DATABASE_URL=f"sqlite:///{tmp.name}/bench.db", CODE_EXPORT_DIR=f"{tmp.name}/exports",
        CODE_EXPORT_FILE_ROWS=str(file_rows), CODE_BATCH_MAX=str(max(count, 1)))
    from flask_migrate import upgrade

    from app import gs1
    from app.codes import export as packs
    from app.codes import export_jobs, service
    from app.codes.models import ExportJob
    from app.db import transaction
    from app.extensions import db
    from app.identity.service import Actor
    from app.masterdata.models import Product

    figures = {"bare": [], "issue": [], "export": [], "ratio": []}
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with transaction():
            body = "0691234567890"
            product = Product(sku="BENCH-1", name="Bench product", gtin=body + str(gs1.check_digit(body)))
            db.session.add(product)
        ring = service.keyring()
        if not keep_switch_interval:
            packs.tune_interpreter_for_exports()  # as `flask codes work`, which runs exports in production
        rss_before = rss_mb()
        for _ in range(runs):
            started = time.perf_counter()
            # The same values the pack holds: codes, and hidden codes when the batch has them.
            for _codes, _hidden in ring.code_chunks(start=1, count=count, hidden_digits=hidden_digits):
                pass
            bare = time.perf_counter() - started

            started = time.perf_counter()
            with transaction():
                batch, job = service.issue_batch(actor=Actor.system("bench"), product_id=product.id,
                                                 level="item", count=count,
                                                 hidden_code_digits=hidden_digits)
            issue = time.perf_counter() - started

            started = time.perf_counter()
            export_jobs.run_export(job_id=job.id)
            export = time.perf_counter() - started
            done = db.session.get(ExportJob, job.id, populate_existing=True)
            assert done.status.value == "done" and done.rows_done == count, (done.status, done.error)
            Path(done.file_path).unlink()

            for name, value in (("bare", bare), ("issue", issue), ("export", export), ("ratio", export / bare)):
                figures[name].append(value)
            print(f"  N={count:>11,}  bare {bare:7.2f} s   issue {issue * 1000:6.1f} ms   "
                  f"export {export:7.2f} s   ratio {export / bare:4.2f}   zip {done.file_size / 2**20:7.1f} MiB",
                  file=sys.stderr, flush=True)
    tmp.cleanup()
    return {
        "count": count, "runs": runs, "hidden_digits": hidden_digits,
        "bare_s": statistics.median(figures["bare"]), "issue_ms": statistics.median(figures["issue"]) * 1000,
        "export_s": statistics.median(figures["export"]), "ratio": statistics.median(figures["ratio"]),
        "rss_before_export_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, action="append",
                        help="codes per batch; repeat for several sizes (default: 1,000,000 and 10,000,000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hidden-digits", type=int, choices=(6, 7, 8), default=None)
    parser.add_argument("--file-rows", type=int, default=1_000_000, help="rows per CSV file in the zip")
    parser.add_argument("--keep-switch-interval", action="store_true",
                        help="leave the thread switch interval alone, as the web process's thread runner does")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = args.count or [1_000_000, 10_000_000]

    if args.child:
        print(json.dumps(measure(counts[0], args.runs, args.hidden_digits, args.file_rows,
                                 args.keep_switch_interval)))
        return 0

    print(f"machine: {machine()}")
    print(f"export: item codes, product with a GTIN (short URL and Digital Link per row), "
          f"hidden codes: {args.hidden_digits or 'none'}, {args.file_rows:,} rows per CSV file, deflate level 1")
    results = []
    for count in counts:
        command = [sys.executable, __file__, "--child", "--count", str(count), "--runs", str(args.runs),
                   "--file-rows", str(args.file_rows)]
        if args.hidden_digits:
            command += ["--hidden-digits", str(args.hidden_digits)]
        if args.keep_switch_interval:
            command.append("--keep-switch-interval")
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))

    print(f"\n{'codes':>12} {'bare loop':>10} {'codes/s':>11} {'issue':>9} {'export':>9} {'codes/s':>11} "
          f"{'ratio':>6} {'RSS before':>11} {'peak RSS':>9}")
    for r in results:
        print(f"{r['count']:>12,} {r['bare_s']:>9.2f}s {r['count'] / r['bare_s']:>11,.0f} {r['issue_ms']:>7.1f}ms "
              f"{r['export_s']:>8.2f}s {r['count'] / r['export_s']:>11,.0f} {r['ratio']:>6.2f} "
              f"{r['rss_before_export_mb']:>9.0f}MB {r['peak_rss_mb']:>7.0f}MB")
    print(f"(medians of {args.runs} runs; ratio = export time / bare loop time, target <= {TARGET_RATIO})")
    return 0 if all(r["ratio"] <= TARGET_RATIO for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

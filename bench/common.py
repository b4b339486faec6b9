"""What the benchmarks share: the machine line, timings, and a wiped, migrated MariaDB of their own."""
from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MS = 1000


def shipped_gunicorn() -> dict:
    """The shipped gunicorn settings (config/gunicorn.py), read as gunicorn reads them, with REDIS_URL set
    (a shared Redis: several workers) and WEB_CONCURRENCY / GUNICORN_THREADS as the environment has them."""
    import runpy

    saved = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = saved or "redis://"
    try:
        settings = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    finally:
        if saved is None:
            del os.environ["REDIS_URL"]
    return {"workers": settings["workers"], "threads": settings["threads"]}


def machine() -> str:
    """CPUs, CPU model, Python and kernel, printed above every benchmark's figures."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s), {model}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _proc_stats() -> dict[int, tuple[int, str, float]]:
    """Every process now: pid -> (parent pid, command name, CPU seconds so far, user + system). Linux /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                text = f.read()
        except OSError:
            continue  # gone meanwhile
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        stats[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick)
    return stats


def cpu_by_group(groups: dict[str, list[int] | str]) -> dict[str, float]:
    """CPU seconds so far of each group: a list of root pids (with all their descendants) or a command name
    (every process of that name, e.g. "mariadbd"), and "children" (this process's waited-for children, such
    as a load generator run to its end)."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    totals = {}
    for group, what in groups.items():
        if isinstance(what, str):
            totals[group] = sum(cpu for _, name, cpu in stats.values() if name == what)
            continue
        todo, total = list(what), 0.0
        while todo:
            pid = todo.pop()
            if pid in stats:
                total += stats[pid][2]
                todo += children.get(pid, [])
        totals[group] = total
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["children"] = usage.ru_utime + usage.ru_stime
    return totals


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive), or the one value there is."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def timing_line(label: str, seconds: list[float], width: int) -> str:
    """`  label  median … ms   p95 … ms   max … ms`, the label padded to width."""
    return (f"  {label:<{width}}median {statistics.median(seconds) * MS:6.1f} ms   "
            f"p95 {p95(seconds) * MS:6.1f} ms   max {max(seconds) * MS:6.1f} ms")


def alternate(runs: int, first, second) -> tuple[list[float], list[float]]:
    """Time first(run) and second(run) for each run, swapping which goes first (a shared machine drifts)."""
    firsts, seconds = [], []
    for run in range(runs):
        if run % 2 == 0:
            firsts.append(first(run))
            seconds.append(second(run))
        else:
            seconds.append(second(run))
            firsts.append(first(run))
    return firsts, seconds


def may_wipe_bench_database(wipe: bool) -> bool:
    """Whether DATABASE_URL is a MariaDB/MySQL database this benchmark may wipe (says why not on stderr)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("mysql", "mariadb")):
        print("DATABASE_URL must point at MariaDB/MySQL (mysql+pymysql://...); SQLite is not measured.",
              file=sys.stderr)
        return False
    database = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if "bench" not in database and not wipe:
        print(f"The database {database!r} is wiped by this benchmark: use one named *bench*, or pass --wipe.",
              file=sys.stderr)
        return False
    return True


def bench_redis_url() -> str | None:
    """REDIS_URL when it names a Redis server (the benchmark flushes its database); None, saying why, if not."""
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        print("REDIS_URL must name a Redis server database of the benchmark's own (it is flushed).", file=sys.stderr)
        return None
    return url


def development_app(**env: str):
    """The app in development settings with the given environment, no Redis and quiet logs."""
    os.environ.update({"MATONG_ENV": "development", "CODE_EXPORT_RUNNER": "worker", **env})
    os.environ.pop("REDIS_URL", None)
    import logging

    from app import create_app

    from app.platform.runtime import freeze_startup_heap

    logging.disable(logging.WARNING)
    app = create_app("development")
    freeze_startup_heap()  # as wsgi.py does for the served app
    return app


def wipe_and_migrate(metadata) -> None:
    """Downgrade to base, upgrade to head, and recreate the benchmark's own bare tables (in an app context)."""
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    downgrade(directory=str(ROOT / "migrations"), revision="base")
    upgrade(directory=str(ROOT / "migrations"))
    metadata.drop_all(db.engine, checkfirst=True)
    metadata.create_all(db.engine)


def product_line_lot(actor, **product):
    """A bench product (the given fields), factory, line B1 and lot BENCH, in the caller's transaction."""
    from datetime import date

    from app.masterdata import places, products
    from app.production import service as production

    product = products.create_product(actor=actor, data={"name": "Bench product", **product})
    factory = places.create_factory(actor=actor, data={"name": "Bench factory"})
    line = places.create_production_line(actor=actor, data={
        "factory_id": factory.id, "code": "B1", "name": "Bench line"})
    lot = production.create_production_lot(actor=actor, data={
        "product_id": product.id, "factory_id": factory.id, "line_id": line.id, "lot_no": "BENCH",
        "production_date": date(2026, 3, 2)})
    return product, factory, line, lot


def pallet(actor, *, product_id: int, lot_id: int, location_kind, location_id: int, at, cases: int,
           per_case: int) -> tuple[str, list]:
    """A pallet of cases x per_case items at a place: issues its codes (own transaction); its code and
    its unit rows (pallet, cases, items), not yet written."""
    from app.codes import service as codes
    from app.codes.models import Level
    from app.db import transaction
    from app.units import unit_rows
    from app.units.models import UnitStatus

    with transaction():
        items, _ = codes.issue_batch(actor=actor, product_id=product_id, level="item", count=cases * per_case)
        boxes, _ = codes.issue_batch(actor=actor, product_id=product_id, level="case", count=cases)
        pallets, _ = codes.issue_batch(actor=actor, product_id=product_id, level="pallet", count=1)

    def unit(batch, i, level, parent, children):
        return unit_rows.UnitState(
            batch.serial_start + i, batch.key_version, batch.id, level, product_id, lot_id,
            UnitStatus.ACTIVE, parent, children, False, location_kind, location_id, False,
            None, None, None, at)

    top = pallets.serial_start
    units = [unit(pallets, 0, Level.PALLET, None, cases)]
    units += [unit(boxes, c, Level.CASE, top, per_case) for c in range(cases)]
    units += [unit(items, i, Level.ITEM, boxes.serial_start + i // per_case, 0) for i in range(cases * per_case)]
    return codes.keyring().encode(top, pallets.key_version), units


def write_commissioned(units: list, *, lot_id: int, line_id: int, at) -> None:
    """Write the units and a COMMISSION event on the line for each item, in the caller's transaction."""
    from app.codes.models import Level
    from app.db import utcnow
    from app.units import unit_rows
    from app.units.models import EventKind, LocationKind

    now = utcnow()
    unit_rows.insert_units(units)
    unit_rows.write_events([unit_rows.event_row(
        kind=EventKind.COMMISSION, serial=u.serial, lot_id=lot_id, occurred_at=at, recorded_at=now,
        location_kind=LocationKind.LINE, location_id=line_id, source="bench")
        for u in units if u.level is Level.ITEM])

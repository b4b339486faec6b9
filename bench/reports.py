"""Benchmark: every report endpoint over a year's world, beside the naive GROUP BY over the raw tables.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/reports.py [--scale 0.1] [--calls 20] [--check]

MariaDB only (it uses the Sequence engine's seq_1_to_N tables); the database is WIPED and migrated to
head: give it one of its own (its name must contain "bench", or pass --wipe).

The world, generated in bulk with INSERT ... SELECT (never through the API), at --scale 1: 40
products, 400 lots of 5,000 items (2,000,000 items in 83,334 cases, commissioned over 365 days), 300
dealers (30 of tier 1), 2,000 stores spread over the districts of the regions table, each case
shipped by the brand's warehouse to a dealer, received, shipped on to a store and received there;
200,000 items sale-scanned at stores; 500,000 consumers and 10,000,000 consumer scans (a unit's first
scan genuine, later ones scanned-before, some suspected copies and forged codes; half with a region).
The rollups are then filled by set-based SQL (``fill_rollups``: one INSERT ... SELECT per family of
facts), which ``--check`` proves equal to ``app.reports.rebuild.rebuild`` on a small world.

Then, for each report in REPORTS (every GET under /api/admin/reports/ is listed; one line each gives
its query and its naive SQL), ``--calls`` calls of a 30-day all-regions request through the Flask test
client (after one untimed call), and as many runs of the naive SQL, alternating: p50 and p95 of each
and the ratio.
Target: a report's p95 <= 200 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import MS, development_app, machine, may_wipe_bench_database, p95, wipe_and_migrate

TARGET_P95_MS = 200
CHINA = "INTERVAL 8 HOUR"  # business days are China days; instants are stored in UTC

# --- the reports and their naive equivalents ------------------------------------------------------
# path under /api/admin/reports -> (query string, naive SQL over the raw tables for the same figures).
# :first / :last are the period's China days, :starts / :ends the UTC instants bounding them.
NAIVE_OVERVIEW = f"""
SELECT 'scan' AS fact, DATE(scanned_at + {CHINA}) AS day, verdict, COUNT(*) AS n,
       SUM(serial IS NOT NULL AND scan_number = 1) AS firsts, COUNT(DISTINCT app_user_id) AS consumers
  FROM consumer_scans WHERE scanned_at >= :prev_starts AND scanned_at < :ends GROUP BY 2, 3
UNION ALL
SELECT e.kind, DATE(e.occurred_at + {CHINA}), e.location_kind, COUNT(*),
       SUM(COALESCE(JSON_VALUE(e.data, '$.units'), u.level = 'item')), 0
  FROM unit_events e JOIN units u ON u.serial = e.serial
 WHERE e.occurred_at >= :prev_starts AND e.occurred_at < :ends GROUP BY 1, 2, 3
UNION ALL
SELECT 'consumers', NULL, NULL, COUNT(DISTINCT app_user_id), 0, 0
  FROM consumer_scans WHERE scanned_at >= :starts AND scanned_at < :ends
"""
# Each campaign's scans (its products and provinces, on its days) and its draws.
NAIVE_CAMPAIGNS = """
SELECT k.id, c.verdict, COUNT(*) AS scans, SUM(c.serial IS NOT NULL AND c.scan_number = 1) AS firsts, 0, 0
  FROM campaigns k JOIN consumer_scans c
    ON c.scanned_at >= GREATEST(:starts, k.starts_at) AND c.scanned_at < LEAST(:ends, k.ends_at)
   AND (JSON_LENGTH(k.product_ids) = 0 OR JSON_CONTAINS(k.product_ids, CAST(c.product_id AS CHAR)))
   AND (JSON_LENGTH(k.region_codes) = 0 OR JSON_CONTAINS(k.region_codes, JSON_QUOTE(RPAD(LEFT(c.region_code, 2), 12, '0'))))
 WHERE k.starts_at < :ends AND k.ends_at > :starts GROUP BY 1, 2
UNION ALL
SELECT campaign_id, outcome, COUNT(*), COUNT(DISTINCT app_user_id, day), SUM(IF(prize_kind = 'cash', amount, 0)),
       SUM(IF(prize_kind = 'points', amount, 0))
  FROM campaign_draws WHERE day BETWEEN :first AND :last GROUP BY 1, 2
"""
NAIVE_HEAT = """
SELECT LEFT(region_code, 2), COUNT(*), SUM(serial IS NOT NULL AND scan_number = 1),
       SUM(serial IS NOT NULL AND scan_number = 1 AND verdict = 'genuine'), COUNT(DISTINCT app_user_id)
  FROM consumer_scans WHERE scanned_at >= :starts AND scanned_at < :ends AND region_code IS NOT NULL GROUP BY 1
"""
# Consumers whose latest scan is in the period by their scans ever; scans by product; the heat by province.
NAIVE_SEGMENTS = """
SELECT 'frequency', CASE WHEN n >= 10 THEN '10+' WHEN n >= 4 THEN '4-9' WHEN n >= 2 THEN '2-3' ELSE '1' END,
       COUNT(*), SUM(n), 0, 0
  FROM (SELECT app_user_id, COUNT(*) AS n FROM consumer_scans GROUP BY app_user_id
        HAVING MAX(scanned_at) >= :starts AND MAX(scanned_at) < :ends) t GROUP BY 2
UNION ALL
SELECT 'product', product_id, COUNT(*), SUM(serial IS NOT NULL AND scan_number = 1),
       SUM(serial IS NOT NULL AND scan_number = 1 AND verdict = 'genuine'), 0
  FROM consumer_scans WHERE scanned_at >= :starts AND scanned_at < :ends AND product_id IS NOT NULL GROUP BY 2
UNION ALL
SELECT 'province', LEFT(region_code, 2), COUNT(*), SUM(serial IS NOT NULL AND scan_number = 1),
       SUM(serial IS NOT NULL AND scan_number = 1 AND verdict = 'genuine'), COUNT(DISTINCT app_user_id)
  FROM consumer_scans WHERE scanned_at >= :starts AND scanned_at < :ends AND region_code IS NOT NULL GROUP BY 2
"""
# Production by day: the line's events on the units' levels, and the codes issued.
NAIVE_PRODUCTION = f"""
SELECT DATE(e.occurred_at + {CHINA}) AS day, e.kind, u.level, COUNT(*) AS n
  FROM unit_events e JOIN units u ON u.serial = e.serial
 WHERE e.occurred_at >= :starts AND e.occurred_at < :ends AND e.kind IN ('commission', 'pack', 'scrap', 'recall')
 GROUP BY 1, 2, 3
UNION ALL
SELECT DATE(created_at + {CHINA}), 'issued', level, SUM(count) FROM code_batches
 WHERE created_at >= :starts AND created_at < :ends GROUP BY 1, 3
"""
# Channel flows by day: items in and out per kind of holder, and what the receipts found.
NAIVE_FLOWS = f"""
SELECT DATE(e.occurred_at + {CHINA}) AS day, e.kind, e.location_kind, COUNT(*) AS n,
       SUM(COALESCE(JSON_VALUE(e.data, '$.units'), u.level = 'item')) AS items, 0 AS missing
  FROM unit_events e JOIN units u ON u.serial = e.serial
 WHERE e.occurred_at >= :starts AND e.occurred_at < :ends AND e.kind IN ('receive', 'ship') GROUP BY 1, 2, 3
UNION ALL
SELECT DATE(confirmed_at + {CHINA}), 'receipt', receiver_kind, COUNT(*), SUM(received), SUM(missing) FROM receipts
 WHERE confirmed_at >= :starts AND confirmed_at < :ends GROUP BY 1, 3
"""
# Sell-through by day: items sold and the stores that sold; items taken out of cases at stores; active stores.
NAIVE_SELL_THROUGH = f"""
SELECT DATE(scanned_at + {CHINA}) AS day, 'sold', COUNT(*), COUNT(DISTINCT store_id) FROM sale_scans
 WHERE scanned_at >= :starts AND scanned_at < :ends GROUP BY 1
UNION ALL
SELECT DATE(e.occurred_at + {CHINA}), 'unpacked', COUNT(*), COUNT(DISTINCT e.location_id)
  FROM unit_events e JOIN units u ON u.serial = e.serial AND u.level = 'item'
 WHERE e.occurred_at >= :starts AND e.occurred_at < :ends AND e.kind IN ('unpack', 'remove')
   AND e.location_kind = 'store' GROUP BY 1
UNION ALL
SELECT NULL, 'active stores', COUNT(*), 0 FROM stores WHERE status = 'active'
"""
NAIVE_STORES = """
SELECT store_id, COUNT(*) AS n FROM sale_scans WHERE scanned_at >= :starts AND scanned_at < :ends
 GROUP BY store_id ORDER BY n DESC, store_id LIMIT 10
"""
# The clerk ranking reads sale_scans itself (the rollups have no clerk): its naive twin is its own GROUP BY.
NAIVE_CLERKS = """
SELECT app_user_id, store_id, COUNT(*) FROM sale_scans WHERE scanned_at >= :starts AND scanned_at < :ends
 GROUP BY 1, 2
"""
NAIVE_DIVERSION = f"""
SELECT DATE(created_at + {CHINA}) AS day, 'raised', COUNT(*) FROM diversion_alerts
 WHERE created_at >= :starts AND created_at < :ends GROUP BY 1
UNION ALL
SELECT DATE(resolved_at + {CHINA}), 'closed', COUNT(*) FROM diversion_alerts
 WHERE resolved_at >= :starts AND resolved_at < :ends GROUP BY 1
UNION ALL
SELECT NULL, 'open now', COUNT(*) FROM diversion_alerts WHERE status = 'open'
"""
# Channel stock (under /api/admin/stock, not /reports): the units in stock counted directly, each
# item's day received taken as its store receipt's China day (the world's cases reach stores 5 days
# after they were made); sold items are out of stock.
NAIVE_STOCK = f"""
SELECT {{group}}, COUNT(DISTINCT u.location_id), COUNT(*), MIN(DATE(u.commissioned_at + INTERVAL 5 DAY + {CHINA})),
       SUM(DATE(u.commissioned_at + INTERVAL 5 DAY + {CHINA}) > :last - INTERVAL 30 DAY)
  FROM units u LEFT JOIN sale_scans s ON s.serial = u.serial
 WHERE u.level = 'item' AND u.status = 'active' AND u.location_kind = 'store' AND s.id IS NULL GROUP BY 1
"""
STOCK: dict[str, tuple[str, str]] = {
    "stock": ("/api/admin/stock?days=30", NAIVE_STOCK.format(group="u.location_kind")),
    "stock/summary holder_kind": ("/api/admin/stock/summary?group=holder_kind&days=30",
                                  NAIVE_STOCK.format(group="u.location_kind")),
    "stock/summary product": ("/api/admin/stock/summary?group=product&days=30",
                              NAIVE_STOCK.format(group="u.product_id")),
    "stock/summary region": ("/api/admin/stock/summary?group=region&days=30",
                             NAIVE_STOCK.format(group="(SELECT LEFT(region_code, 2) FROM stores WHERE id = u.location_id)")),
}
PERIOD = "from={first}&to={last}"
REPORTS: dict[str, tuple[str, str | None]] = {
    "overview": ("", NAIVE_OVERVIEW),
    "campaigns": (PERIOD, NAIVE_CAMPAIGNS),
    "consumers/heat": (PERIOD, NAIVE_HEAT),
    "consumers/segments": (PERIOD, NAIVE_SEGMENTS),
    "production": (PERIOD, NAIVE_PRODUCTION),
    "channel/flows": (PERIOD, NAIVE_FLOWS),
    "sell-through": (PERIOD, NAIVE_SELL_THROUGH),
    "rankings/stores": (PERIOD, NAIVE_STORES),
    "rankings/clerks": (PERIOD, NAIVE_CLERKS),
    "diversion": (PERIOD, NAIVE_DIVERSION),
}


# --- the world -------------------------------------------------------------------------------------

def world_sql(scale: float) -> list[tuple[str, str]]:
    """(what, statement) in order; sizes from --scale."""
    lots = max(4, round(400 * scale))
    per_lot = 5_000
    items = lots * per_lot
    per_case = 24
    cases = -(-items // per_case)
    scans = round(10_000_000 * scale)
    sales = round(200_000 * scale)
    consumers = max(100, round(500_000 * scale))
    stores, dealers, products = max(20, round(2_000 * min(1, scale * 10))), 300, 40
    year = "TIMESTAMP(UTC_DATE()) - INTERVAL 365 DAY"
    item_base, case_base = 1_000_000_000, 900_000_000
    return [
        ("products", f"""INSERT INTO products (id, sku, name, specification, units_per_case, cases_per_pallet,
            description, status, created_at, updated_at)
            SELECT seq, CONCAT('B-', seq), CONCAT('Product ', seq), '', {per_case}, 50, '', 'active', NOW(), NOW()
            FROM seq_1_to_{products}"""),
        ("factory, line, warehouse", """INSERT INTO factories (id, name, address, status, created_at, updated_at)
            VALUES (1, 'Bench factory', '', 'active', NOW(), NOW())"""),
        ("", """INSERT INTO production_lines (id, factory_id, code, name, mode, status, created_at, updated_at)
            VALUES (1, 1, 'B1', 'Bench line', 'manual', 'active', NOW(), NOW())"""),
        ("", """INSERT INTO warehouses (id, name, factory_id, address, region_code, status, created_at, updated_at)
            SELECT 1, 'Bench DC', 1, '', MIN(code), 'active', NOW(), NOW() FROM regions WHERE level = 'district'"""),
        ("districts", """CREATE TEMPORARY TABLE bench_districts (n INT PRIMARY KEY, code VARCHAR(12))
            SELECT ROW_NUMBER() OVER (ORDER BY code) - 1 AS n, code FROM regions WHERE level = 'district'"""),
        ("dealers", f"""INSERT INTO dealers (id, name, tier, parent_id, contacts, status, created_at, updated_at)
            SELECT seq, CONCAT('Dealer ', seq), IF(seq <= 30, 1, 2), IF(seq <= 30, NULL, 1 + seq % 30), '[]',
                   'active', NOW(), NOW() FROM seq_1_to_{dealers}"""),
        ("stores", f"""INSERT INTO stores (id, name, address, region_code, status, created_at, updated_at)
            SELECT seq, CONCAT('Store ', seq), '', d.code, 'active', NOW(), NOW()
            FROM seq_1_to_{stores} JOIN bench_districts d
              ON d.n = (seq * 7) % (SELECT COUNT(*) FROM bench_districts)"""),
        ("lots", f"""INSERT INTO production_lots (id, product_id, lot_no, production_date, factory_id, line_id, shift,
            status, created_at, updated_at)
            SELECT seq, 1 + seq % {products}, CONCAT('L', seq), DATE({year} + INTERVAL (seq - 1) * 365 / {lots} DAY),
                   1, 1, '', 'open', NOW(), NOW() FROM seq_1_to_{lots}"""),
        ("code batches", f"""INSERT INTO code_batches (id, batch_no, product_id, level, key_version, serial_start,
            count, status, created_by, created_at, updated_at)
            SELECT seq, CONCAT('I', seq), 1 + seq % {products}, 'item', 1, {item_base} + (seq - 1) * {per_lot},
                   {per_lot}, 'active', 'bench', NOW(), NOW() FROM seq_1_to_{lots}
            UNION ALL SELECT {lots} + 1, 'C', NULL, 'case', 1, {case_base}, {cases}, 'active', 'bench', NOW(), NOW()"""),
        # Item i of lot l (i from 0): serial item_base + i overall; case i div 24; commissioned on the lot's day.
        ("units: items", f"""INSERT INTO units (serial, key_version, batch_id, level, product_id, lot_id, status,
            parent_serial, child_count, `partial`, location_kind, location_id, in_transit, commissioned_at,
            updated_at, last_dealer_id)
            SELECT {item_base} + seq, 1, 1 + seq DIV {per_lot}, 'item', 1 + (1 + seq DIV {per_lot}) % {products},
                   1 + seq DIV {per_lot}, 'active', {case_base} + seq DIV {per_case}, 0, 0, 'store',
                   1 + (seq DIV {per_case}) % {stores}, 0,
                   {year} + INTERVAL (seq DIV {per_lot}) * 365 / {lots} DAY + INTERVAL seq % 36000 SECOND, NOW(),
                   1 + (seq DIV {per_case}) % {dealers}
            FROM seq_0_to_{items - 1}"""),
        ("units: cases", f"""INSERT INTO units (serial, key_version, batch_id, level, product_id, lot_id, status,
            child_count, `partial`, location_kind, location_id, in_transit, commissioned_at, updated_at, last_dealer_id)
            SELECT {case_base} + seq, 1, {lots} + 1, 'case', 1 + (1 + seq * {per_case} DIV {per_lot}) % {products},
                   1 + seq * {per_case} DIV {per_lot}, 'active', {per_case}, 0, 'store', 1 + seq % {stores}, 0,
                   {year} + INTERVAL (seq * {per_case} DIV {per_lot}) * 365 / {lots} DAY, NOW(), 1 + seq % {dealers}
            FROM seq_0_to_{cases - 1}"""),
        ("events: commission", """INSERT INTO unit_events (kind, serial, lot_id, occurred_at, recorded_at,
            location_kind, location_id, source)
            SELECT 'commission', serial, lot_id, commissioned_at, commissioned_at, 'line', 1, 'bench'
            FROM units WHERE level = 'item'"""),
        # The case's way: the brand ships it a day after it was made, the dealer receives it, ships it on
        # two days later, the store receives it (each a case-level event counting its 24 items).
        ("events: channel", f"""INSERT INTO unit_events (kind, serial, lot_id, occurred_at, recorded_at,
            location_kind, location_id, source, data)
            SELECT k.kind, u.serial, u.lot_id, u.commissioned_at + INTERVAL k.days DAY + INTERVAL u.serial % 7200 SECOND,
                   NOW(), k.place, IF(k.place = 'warehouse', 1, IF(k.place = 'dealer', u.last_dealer_id, u.location_id)),
                   'bench', '{{"units": {per_case}}}'
            FROM units u JOIN (SELECT 'ship' AS kind, 'warehouse' AS place, 1 AS days
                               UNION ALL SELECT 'receive', 'dealer', 2 UNION ALL SELECT 'ship', 'dealer', 4
                               UNION ALL SELECT 'receive', 'store', 5) k
            WHERE u.level = 'case' AND u.commissioned_at + INTERVAL k.days DAY < NOW()"""),
        # Sale s: of item i = (s * 9973) mod items, at its case's store, 6 to 35 days after it was made.
        ("sale scans", f"""INSERT INTO sale_scans (id, serial, code, store_id, app_user_id, product_id, lot_id,
            region_code, not_received, reward_amount, withheld, scanned_at)
            SELECT STRAIGHT_JOIN q.seq + 1, {item_base} + q.i, CONCAT('S', q.i), s.id, 1,
                   1 + (1 + q.i DIV {per_lot}) % {products}, 1 + q.i DIV {per_lot}, s.region_code, 0, 0, 0,
                   LEAST({year} + INTERVAL (q.i DIV {per_lot}) * 365 / {lots} DAY + INTERVAL q.i % 36000 SECOND
                         + INTERVAL 6 + q.seq % 30 DAY, NOW() - INTERVAL 1 MINUTE)
            FROM (SELECT seq, (seq * 9973) % {items} AS i FROM seq_0_to_{sales - 1}) q
            JOIN stores s ON s.id = 1 + (q.i DIV {per_case}) % {stores}"""),
        ("events: sell", """INSERT INTO unit_events (kind, serial, lot_id, occurred_at, recorded_at, location_kind,
            location_id, source)
            SELECT 'sell', serial, lot_id, scanned_at, scanned_at, 'store', store_id, 'bench' FROM sale_scans"""),
        ("consumers", f"""INSERT INTO app_users (id, app, openid, person_id, nickname, status, created_at)
            SELECT seq, 'consumer', CONCAT('o-bench-', seq), seq, '', 'active', NOW() FROM seq_1_to_{consumers}"""),
        # Scan s: of item (s * 7919) mod items (each item about scans/items times), the (s div items + 1)th
        # scan of it; its time scattered over the year; half with a store's district; 1 % suspected, 0.5 % forged.
        ("consumer scans", f"""INSERT INTO consumer_scans (id, serial, code, app_user_id, verdict, scan_number,
            product_id, lot_id, region_code, scanned_at)
            SELECT seq + 1, IF(seq % 200 = 7, NULL, {item_base} + (seq * 7919) % {items}), 'C', 1 + (seq * 31) % {consumers},
                   CASE WHEN seq % 200 = 7 THEN 'forged' WHEN seq % 100 = 3 THEN 'suspected_copy'
                        WHEN seq < {items} THEN 'genuine' ELSE 'scanned_before' END,
                   seq DIV {items} + 1,
                   IF(seq % 200 = 7, NULL, 1 + (1 + ((seq * 7919) % {items}) DIV {per_lot}) % {products}),
                   IF(seq % 200 = 7, NULL, 1 + ((seq * 7919) % {items}) DIV {per_lot}),
                   IF(seq % 2 = 0, (SELECT region_code FROM stores WHERE id = 1 + (seq DIV 2) % {stores}), NULL),
                   {year} + INTERVAL ((seq * 104729) % {scans}) * (365 * 86400 - 600) DIV {scans} SECOND
            FROM seq_0_to_{scans - 1}"""),
        # Campaigns over the year (no draws: their facts are a few rows a day beside the scans'): one
        # takes every scan, one five products' (the fine rows), one two provinces' (the coarse rows).
        ("campaigns", f"""INSERT INTO campaigns (id, name, status, starts_at, ends_at, total_budget_fen,
            daily_budget_fen, spent_fen, per_user_daily_limit, per_user_total_limit, hidden_code_required,
            first_scan_only, product_ids, lot_ids, region_codes, blacklist, created_by, created_at, updated_at)
            SELECT seq, CONCAT('Campaign ', seq), 'active', {year}, NOW() + INTERVAL 30 DAY, 100000000, NULL, 0,
                   3, 30, 0, 0, IF(seq = 2, '[1, 2, 3, 4, 5]', '[]'), '[]',
                   IF(seq = 3, '["130000000000", "440000000000"]', '[]'), '[]', 'bench', NOW(), NOW()
            FROM seq_1_to_3"""),
    ]


def stock_sql() -> list[str]:
    """The stock positions and outflow of the world's units (as the movers would have kept them): unsold
    items at their store since their case's receipt; each sale scan an item out of its store that day."""
    return [f"""INSERT INTO stock_positions (holder_kind, holder_id, product_id, lot_id, received_on, quantity)
        SELECT 'store', u.location_id, u.product_id, u.lot_id, DATE(u.commissioned_at + INTERVAL 5 DAY + {CHINA}),
               COUNT(*)
          FROM units u LEFT JOIN sale_scans s ON s.serial = u.serial
         WHERE u.level = 'item' AND u.status = 'active' AND u.location_kind = 'store' AND s.id IS NULL
         GROUP BY 2, 3, 4, 5""",
            f"""INSERT INTO stock_outflow (holder_kind, holder_id, product_id, lot_id, day, quantity)
        SELECT 'store', store_id, product_id, lot_id, DATE(scanned_at + {CHINA}), COUNT(*) FROM sale_scans
         GROUP BY 2, 3, 4, 5"""]


def derived_rows_sql() -> list[str]:
    """INSERT ... SELECTs adding the coarse and the product row of every fine row of days :first..:last
    (rollups.coarse_key, rollups.product_key), from the fine rows only."""
    from app.reports import rollups

    columns = "fact, day, product_id, lot_id, place_kind, place_id, region_code, campaign_id, variant, n, amount"
    fine = (f"FROM report_daily WHERE day BETWEEN :first AND :last AND fact NOT LIKE '%{rollups.COARSE}' "
            f"AND fact NOT LIKE '%{rollups.BY_PRODUCT}'")
    return [f"""INSERT INTO report_daily ({columns})
        SELECT CONCAT(fact, '{rollups.COARSE}'), day, 0, 0, place_kind, 0,
               IF(region_code = '', '', RPAD(LEFT(region_code, 2), 12, '0')), 0, variant, SUM(n), SUM(amount)
          {fine} GROUP BY 1, 2, 5, 7, 9""",
            f"""INSERT INTO report_daily ({columns})
        SELECT CONCAT(fact, '{rollups.BY_PRODUCT}'), day, product_id, 0, '', 0, '', 0, variant, SUM(n), SUM(amount)
          {fine} GROUP BY 1, 2, 3, 9"""]


def fill_rollups(conn, first, last) -> None:
    """The rollups of days first..last by set-based SQL, as ``rebuild`` computes them (``--check``): unit
    events and consumer scans in one INSERT ... SELECT each; consumer days (scans, the previous day by
    LAG, the lowest scan id and its region) and their ``consumer.day`` / ``consumer.pday`` facts; consumers' totals and their
    ``consumer.segment`` facts; then every fine row's coarse row (``rollups.coarse_key``) by one GROUP BY
    over the rows just written. The other families (batches, receipts, draws, payouts, points, alerts)
    go through ``rebuild``'s own functions and ``rollups.write``, which adds their coarse rows itself.

    Made for the bench's fresh world, whose scans all fall in first..last: consumers' totals are
    replaced outright, and a previous day before ``first`` is read from the scans (the rebuild reads the
    consumer days kept there: the same when those are right)."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.platform.clock import day_start
    from app.reports import facts, rebuild, rollups

    reach = timedelta(days=rollups.PREV_DAY_REACH)
    bounds = {"starts": day_start(first).replace(tzinfo=None),
              "ends": day_start(last + timedelta(days=1)).replace(tzinfo=None),
              "reach_starts": day_start(first - reach).replace(tzinfo=None),
              "first": first, "last": last, "reach": rollups.PREV_DAY_REACH}
    # The GROUP BYs below make millions of groups at --scale 1: in memory, not in an on-disk temp table.
    conn.execute(sa.text("SET SESSION tmp_table_size = 2147483648, max_heap_table_size = 2147483648"))
    conn.execute(sa.text("DELETE FROM report_daily WHERE day BETWEEN :first AND :last"), bounds)
    conn.execute(sa.text("DELETE FROM report_consumer_days WHERE day BETWEEN :first AND :last"), bounds)
    conn.execute(sa.text("DELETE FROM report_consumers"))
    columns = "fact, day, product_id, lot_id, place_kind, place_id, region_code, campaign_id, variant, n, amount"
    kinds = " ".join(f"WHEN '{kind}' THEN '{fact}'" for kind, fact in facts.UNIT_EVENT_FACTS.items())
    conn.execute(sa.text(f"""
        INSERT INTO report_daily ({columns})
        SELECT CASE e.kind {kinds} END, DATE(e.occurred_at + {CHINA}), COALESCE(u.product_id, 0),
               COALESCE(e.lot_id, 0), COALESCE(e.location_kind, ''), COALESCE(e.location_id, 0),
               COALESCE(CASE e.location_kind WHEN 'warehouse' THEN w.region_code WHEN 'store' THEN s.region_code END,
                        ''),
               0, IF(e.kind = 'sell', '', u.level), COUNT(*),
               SUM(COALESCE(JSON_VALUE(e.data, '$.units'), u.level = 'item'))
          FROM unit_events e JOIN units u ON u.serial = e.serial
          LEFT JOIN warehouses w ON e.location_kind = 'warehouse' AND w.id = e.location_id
          LEFT JOIN stores s ON e.location_kind = 'store' AND s.id = e.location_id
         WHERE e.occurred_at >= :starts AND e.occurred_at < :ends AND e.kind IN :kinds
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 9""").bindparams(sa.bindparam("kinds", expanding=True)),
                 {**bounds, "kinds": list(facts.UNIT_EVENT_FACTS)})
    conn.execute(sa.text(f"""
        INSERT INTO report_daily ({columns})
        SELECT f.fact, DATE(c.scanned_at + {CHINA}), COALESCE(c.product_id, 0), COALESCE(c.lot_id, 0), '', 0,
               COALESCE(c.region_code, ''), 0, c.verdict, COUNT(*), 0
          FROM consumer_scans c JOIN (SELECT 'scan' AS fact UNION ALL SELECT 'scan.first') f
            ON f.fact = 'scan' OR (c.serial IS NOT NULL AND c.scan_number = 1)
         WHERE c.scanned_at >= :starts AND c.scanned_at < :ends
         GROUP BY 1, 2, 3, 4, 7, 9"""), bounds)
    # A consumer's days from the scans (back to the reach before `first`, for the previous day), each
    # with its previous day (LAG; none when further back than the reach) and its lowest scan's region.
    conn.execute(sa.text(f"""
        INSERT INTO report_consumer_days (day, app_user_id, region_code, scans, prev_day, first_scan_id)
        SELECT d.day, d.app_user_id, COALESCE(c.region_code, ''), d.scans,
               IF(DATEDIFF(d.day, d.prev_day) <= :reach, d.prev_day, NULL), d.first_scan_id
          FROM (SELECT day, app_user_id, scans, first_scan_id,
                       LAG(day) OVER (PARTITION BY app_user_id ORDER BY day) AS prev_day
                  FROM (SELECT DATE(scanned_at + {CHINA}) AS day, app_user_id, COUNT(*) AS scans,
                               MIN(id) AS first_scan_id
                          FROM consumer_scans WHERE scanned_at >= :reach_starts AND scanned_at < :ends
                         GROUP BY 1, 2) g) d
          JOIN consumer_scans c ON c.id = d.first_scan_id
         WHERE d.day >= :first"""), bounds)
    conn.execute(sa.text(f"""
        INSERT INTO report_daily ({columns})
        SELECT '{rollups.CONSUMER_DAY}', day, 0, 0, '', 0, '', 0,
               IF(prev_day IS NULL, 'new', LPAD(DATEDIFF(day, prev_day), 3, '0')), COUNT(*), 0
          FROM report_consumer_days WHERE day BETWEEN :first AND :last GROUP BY 2, 9"""), bounds)
    conn.execute(sa.text(f"""
        INSERT INTO report_daily ({columns})
        SELECT '{rollups.CONSUMER_PROVINCE_DAY}', day, 0, 0, '', 0,
               IF(region_code = '', '', RPAD(LEFT(region_code, 2), 12, '0')), 0,
               IF(prev_day IS NULL, 'new', LPAD(DATEDIFF(day, prev_day), 3, '0')), COUNT(*), 0
          FROM report_consumer_days WHERE day BETWEEN :first AND :last GROUP BY 2, 7, 9"""), bounds)
    conn.execute(sa.text(f"""
        INSERT INTO report_consumers (app_user_id, scans, last_day)
        SELECT app_user_id, COUNT(*), DATE(MAX(scanned_at) + {CHINA}) FROM consumer_scans GROUP BY app_user_id
        HAVING MAX(scanned_at >= :starts AND scanned_at < :ends)"""), bounds)
    segment = " ".join(f"WHEN scans >= {low} THEN '{name}'" for name, low, _ in reversed(rollups.FREQUENCY))
    conn.execute(sa.text(f"""
        INSERT INTO report_daily ({columns})
        SELECT '{rollups.CONSUMER_SEGMENT}', last_day, 0, 0, '', 0, '', 0, CASE {segment} END, COUNT(*), SUM(scans)
          FROM report_consumers GROUP BY 2, 9"""))
    # The coarse and product rows of the fine rows above (rollups.coarse_key, rollups.product_key),
    # before rollups.write adds the other families with theirs.
    for statement in derived_rows_sql():
        conn.execute(sa.text(statement), bounds)
    starts, ends = day_start(first), day_start(last + timedelta(days=1))
    sums = rollups.Sums()
    for family in (rebuild._code_batches, rebuild._receipts, rebuild._payouts, rebuild._points, rebuild._alerts):
        sums.update(family(starts, ends))
    sums.update(rebuild._draws(first, last))
    rollups.write(sums, session=db.session())


def rollup_rows(conn) -> tuple[dict, set, set]:
    """report_daily as {key: (n, amount)}, the consumer days and the consumers' totals as sets of rows."""
    import sqlalchemy as sa

    daily = {tuple(row[:9]): (row[9], row[10]) for row in conn.execute(sa.text(
        "SELECT fact, day, product_id, lot_id, place_kind, place_id, region_code, campaign_id, variant, n, amount "
        "FROM report_daily WHERE n <> 0 OR amount <> 0"))}
    days = set(conn.execute(sa.text(
        "SELECT day, app_user_id, region_code, scans, prev_day, first_scan_id FROM report_consumer_days")))
    totals = set(conn.execute(sa.text("SELECT app_user_id, scans, last_day FROM report_consumers")))
    return daily, days, totals


# --- timing ----------------------------------------------------------------------------------------

def report_paths(app) -> list[str]:
    """Every GET under /api/admin/reports/ without a path parameter (the bench times each)."""
    return sorted(rule.rule.removeprefix("/api/admin/reports/") for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/api/admin/reports/") and "GET" in rule.methods and not rule.arguments)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1: 10M consumer scans, 2M items, 200k sales")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--naive-calls", type=int, default=None,
                        help="runs of each naive SQL (default: --calls; at --scale 1 one run takes seconds)")
    parser.add_argument("--only", help="time only these reports (comma-separated paths, e.g. consumers/heat)")
    parser.add_argument("--check", action="store_true",
                        help="on a small world: prove the set-based fill equals app.reports.rebuild, then stop")
    parser.add_argument("--keep", action="store_true", help="reuse the world already generated (no wipe)")
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2
    scale = 0.001 if args.check else args.scale

    app = development_app()
    import sqlalchemy as sa

    from app.db import transaction, utcnow
    from app.extensions import db
    from app.identity import service as identity
    from app.identity.models import Role
    from app.platform.clock import china_day
    from app.reports.rebuild import rebuild

    print(f"machine: {machine()}")
    today = china_day(utcnow())
    year = (today - timedelta(days=366), today)
    with app.app_context():
        if args.keep:  # the world kept; migrations added since (an index) are applied
            from flask_migrate import upgrade

            from bench.common import ROOT
            upgrade(directory=str(ROOT / "migrations"))
        else:
            wipe_and_migrate(sa.MetaData())
            started = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(sa.text("SET SESSION foreign_key_checks = 0, unique_checks = 0"))
                for what, statement in world_sql(scale):
                    began = time.perf_counter()
                    rows = conn.execute(sa.text(statement)).rowcount
                    if what:
                        print(f"  {what:<22}{rows:>12,} rows  {time.perf_counter() - began:7.1f} s", flush=True)
            print(f"world generated in {time.perf_counter() - started:.0f} s (--scale {scale})", flush=True)
            began = time.perf_counter()
            with transaction():
                fill_rollups(db.session.connection(), *year)
            print(f"rollups filled by set-based SQL in {time.perf_counter() - began:.0f} s", flush=True)
        if args.check:
            with db.engine.connect() as conn:
                by_sql = rollup_rows(conn)
            with transaction():
                rebuild(first=year[0], last=year[1])
            with db.engine.connect() as conn:
                by_rebuild = rollup_rows(conn)
            differences = {k: (by_sql[0].get(k), by_rebuild[0].get(k)) for k in by_sql[0].keys() | by_rebuild[0].keys()
                           if by_sql[0].get(k) != by_rebuild[0].get(k)}
            coarse = sum(1 for k in by_sql[0] if k[0].endswith("@"))
            by_product = sum(1 for k in by_sql[0] if k[0].endswith("#"))
            print(f"set-based fill vs rebuild(): {len(by_sql[0]):,} daily rows ({coarse:,} coarse, "
                  f"{by_product:,} by product), "
                  f"{len(by_sql[1]):,} consumer days, {len(by_sql[2]):,} consumers' totals; "
                  f"{len(differences)} daily rows differ, {len(by_sql[1] ^ by_rebuild[1])} consumer days differ, "
                  f"{len(by_sql[2] ^ by_rebuild[2])} totals differ")
            for key in sorted(differences, key=str)[:10]:
                print("   ", key, differences[key])
            for row in sorted(by_sql[1] ^ by_rebuild[1], key=str)[:5]:
                print("    consumer day only in", "fill" if row in by_sql[1] else "rebuild", row)
            return 1 if differences or by_sql[1] ^ by_rebuild[1] or by_sql[2] ^ by_rebuild[2] else 0

        with db.engine.begin() as conn:
            if not conn.scalar(sa.text("SELECT COUNT(*) FROM stock_positions")):
                began = time.perf_counter()
                for statement in stock_sql():
                    conn.execute(sa.text(statement))
                print(f"stock positions and outflow filled in {time.perf_counter() - began:.0f} s", flush=True)
        with db.engine.connect() as conn:
            counts = {table: conn.scalar(sa.text(f"SELECT COUNT(*) FROM {table}")) for table in (  # our names
                "consumer_scans", "units", "unit_events", "sale_scans", "stores", "dealers", "products",
                "production_lots", "app_users", "report_daily", "report_consumer_days", "stock_positions",
                "stock_outflow")}
        print("world: " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))

        with transaction():
            if not db.session.scalar(sa.text("SELECT id FROM admin_users WHERE username = 'bench-admin'")):
                identity.create_user(actor=identity.Actor.system("bench"), username="bench-admin",
                                     password="bench password 1", role=Role.ADMIN)
    client = app.test_client()
    token = client.post("/api/admin/auth/login", json={"username": "bench-admin", "password": "bench password 1"}
                        ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    first, last = today - timedelta(days=29), today
    from app.platform.clock import day_start

    params = {"first": first, "last": last, "starts": day_start(first).replace(tzinfo=None),
              "ends": day_start(last + timedelta(days=1)).replace(tzinfo=None),
              "prev_starts": day_start(first - timedelta(days=30)).replace(tzinfo=None)}
    urls = {path: (f"/api/admin/reports/{path}?" + query.format(first=first, last=last), naive)
            for path, (query, naive) in ((p, REPORTS.get(p, (PERIOD, None))) for p in report_paths(app))}
    urls.update(STOCK)
    paths = [p for p in urls if not args.only or p in args.only.split(",")]
    naive_calls = args.calls if args.naive_calls is None else args.naive_calls
    print(f"\n{args.calls} calls each ({naive_calls} of the naive SQL), 30 days ({first}..{last}), all regions; naive = the GROUP BY over raw tables")
    print(f"  {'report':<28}{'p50':>9}{'p95':>9}   {'naive p50':>10}{'naive p95':>10}   naive/report (p50)")
    missed = []
    for path in paths:
        url, naive = urls[path]
        # One call first, not timed: a process's first call of a report compiles and caches its
        # statements (SQLAlchemy), 100-200 ms once, which a serving worker has long paid.
        assert client.get(url, headers=headers).status_code == 200, path
        report_times, naive_times = [], []
        for call in range(args.calls):
            for side in ((0, 1) if call % 2 == 0 else (1, 0)):
                began = time.perf_counter()
                if side == 0:
                    answer = client.get(url, headers=headers)
                    assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:300])
                    report_times.append(time.perf_counter() - began)
                elif naive and call < naive_calls:
                    with app.app_context(), db.engine.connect() as conn:
                        conn.execute(sa.text(naive), params).all()
                    naive_times.append(time.perf_counter() - began)
        r50, r95 = statistics.median(report_times) * MS, p95(report_times) * MS
        line = f"  {path:<28}{r50:7.1f} ms{r95:7.0f} ms"
        if naive_times:
            n50, n95 = statistics.median(naive_times) * MS, p95(naive_times) * MS
            line += f"   {n50:8.0f} ms{n95:8.0f} ms   {n50 / r50:8.1f}x"
        else:
            line += "   (no naive SQL in REPORTS)"
        print(line + ("" if r95 <= TARGET_P95_MS else "   MISSED"), flush=True)
        if r95 > TARGET_P95_MS:
            missed.append(path)
    print(f"target: p95 <= {TARGET_P95_MS} ms: " + ("met by every report" if not missed else f"missed by {missed}"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

# The README's commands. Both work on a fresh machine with only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test test-galera test-redis-cluster console bench bench-line bench-pallet bench-dealer bench-consumer bench-claims bench-scan-facts bench-reports bench-exports bench-costs install clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## make console: build the back-office console (console/dist, served at /console/) when its sources, its
## lockfile or the back-office API are newer than the build: npm ci from the lockfile, the OpenAPI
## document written for its typed client, then vue-tsc and vite.
CONSOLE_SOURCES := $(shell find console/src console/scripts -type f -not -name schema.d.ts -not -name permissions.json 2>/dev/null) \
	console/index.html console/vite.config.ts console/tsconfig.json console/package.json \
	$(shell find app/admin_api -name '*.py' 2>/dev/null) app/schemas.py

console/node_modules/.package-lock.json: console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error

console/dist/index.html: console/node_modules/.package-lock.json $(CONSOLE_SOURCES) | install
	$(BIN)/flask console openapi console/openapi.json
	cd console && npm run --silent build -- --logLevel warn

console: console/dist/index.html

## make run: the embedded default (SQLite, in-process Redis), demo data, server on port 8000.
run: install console
	mkdir -p var
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	$(BIN)/gunicorn -c config/gunicorn.py wsgi:app

## make test: pytest; with DATABASE_URL / REDIS_URL set it runs against those servers, and WIPES that
## database and FLUSHES that Redis database (a database whose name lacks "test" is refused).
test: install
	MATONG_ENV=testing $(BIN)/pytest -q

## make test-galera: the money and race tests with their sessions spread over a Galera cluster's nodes
## (docs/galera.md): `.ci/galera start` first, then DATABASE_URL (one node), MATONG_TEST_DATABASE_NODES (all
## of them, comma separated) and REDIS_URL as .ci/run sets them.
GALERA_TESTS := tests/platform/test_galera.py tests/campaigns/test_claims.py tests/campaigns/test_redemptions.py \
	tests/payouts/test_payouts_concurrency.py tests/retail/test_retail_concurrency.py \
	tests/retail/test_clerk_points_cash.py tests/points tests/channel/test_shipments_concurrency.py \
	tests/warehouse/test_warehouse_concurrency.py tests/warehouse/test_orders_concurrency.py \
	tests/consumers/test_scan_log.py tests/http/test_write_retries.py tests/codes/test_codes.py \
	tests/platform/test_db_retrying.py tests/rebates/test_rebates.py tests/production/test_production.py
test-galera: install
	@test -n "$$MATONG_TEST_DATABASE_NODES" || { echo "set MATONG_TEST_DATABASE_NODES (.ci/galera start prints them)"; exit 2; }
	MATONG_ENV=testing $(BIN)/pytest -q $(GALERA_TESTS)

## make test-redis-cluster: the Redis-dependent suites (consumer scans, the scan log and its counters, claims
## and budgets, rate limits, idempotency, tokens) against a Redis Cluster (docs/redis-cluster.md):
## `.ci/redis-cluster start` first, then REDIS_CLUSTER_NODES as `.ci/redis-cluster env` prints it (every master
## is FLUSHED after each test), and DATABASE_URL as for make test.
REDIS_CLUSTER_TESTS := tests/platform/test_redis_cluster.py tests/consumers tests/units/test_scan_facts.py \
	tests/campaigns tests/accounts/test_mp_login.py tests/identity/test_auth.py tests/gs1/test_gs1_resolver.py \
	tests/http/test_idempotency.py tests/http/test_outages.py tests/attacks/test_consumer_scan_tokens.py \
	tests/attacks/test_consumer_scan_replays.py tests/attacks/test_consumer_scan_hidden_code.py \
	tests/attacks/test_consumer_scan_scan_log.py tests/wechat/test_miniprogram.py tests/platform/test_metrics.py
test-redis-cluster: install
	@test -n "$$REDIS_CLUSTER_NODES" || { echo "set REDIS_CLUSTER_NODES (.ci/redis-cluster start; eval \"\$$(.ci/redis-cluster env)\")"; exit 2; }
	MATONG_ENV=testing $(BIN)/pytest -q $(REDIS_CLUSTER_TESTS)

## make bench: the benchmarks in bench/ (figures go to docs/benchmarks.md).
bench: install
	$(BIN)/python bench/issue_codes.py

## make bench-line: 100,000 pack records in one line upload vs a bare insert (MariaDB; DATABASE_URL
## must name a database of its own, e.g. .../matong_bench: it is wiped).
bench-line: install
	$(BIN)/python bench/line_upload.py

## make bench-pallet: the outbound scan of a 1,200-item pallet, 50 runs, vs a bare UPDATE (MariaDB;
## DATABASE_URL must name a database of its own, e.g. .../matong_bench: it is wiped).
bench-pallet: install
	$(BIN)/python bench/pallet_scan.py --by warehouse

## make bench-dealer: a dealer scanning a 1,200-item pallet code against an order, 50 runs, vs a bare
## SELECT + INSERT (MariaDB; DATABASE_URL must name a database of its own, e.g. .../matong_bench: it is wiped).
bench-dealer: install
	$(BIN)/python bench/pallet_scan.py --by dealer

## make bench-consumer: POST /api/consumer/scans under gunicorn, 64 clients (wrk: apt-get install wrk), vs
## bare Flask endpoints; then the scans at a fixed rate, half the rate reached, in an open loop (bench/open_loop.py:
## latency p99/p99.9 from each request's due time) (MariaDB and Redis; DATABASE_URL and REDIS_URL name databases
## of its own: both wiped).
bench-consumer: install
	$(BIN)/python bench/consumer_scans.py

## make bench-costs: what a scan, a claim, a line record and a dealer scan cost each tier (app, Redis and
## MariaDB CPU, statements, Redis calls) beside GET /healthz; docs/scaling.md sizes the fleet with them
## (DATABASE_URL must name a database of its own, e.g. .../matong_bench_costs: it is wiped).
bench-costs: install
	$(BIN)/python bench/request_costs.py --count 400 --rounds 3

## make bench-claims: 2,000 consumers claim at once for 300 cash prizes; money, payouts and bills checked
## (MariaDB and Redis; DATABASE_URL and REDIS_URL name databases of its own: both wiped).
bench-claims: install
	$(BIN)/python bench/claim_storm.py

## make bench-scan-facts: the Redis memory of 10 million units' scan facts (REDIS_URL names a database of its
## own: flushed); and bench/consumer_scan_parts.py for the CPU of one scan beside /bare-redis, in-process.
bench-scan-facts: install
	$(BIN)/python bench/scan_facts_memory.py

## make bench-reports: a year's world generated in bulk (10M consumer scans, 2M items, 200k sale scans; pass
## ARGS="--scale 0.1" for a quick run), then every report endpoint's p50/p95 over 30 days beside the naive
## GROUP BY over the raw tables (MariaDB; DATABASE_URL must name a database of its own: it is wiped).
bench-reports: install
	$(BIN)/python bench/reports.py $(ARGS)

## make bench-exports: a 1,000,000-row list exported (.xlsx and CSV) through the job path: progress, time and
## peak RSS (MariaDB; DATABASE_URL must name a database of its own, e.g. .../matong_bench: it is wiped).
bench-exports: install
	$(BIN)/python bench/exports.py

clean-db:
	rm -f var/matong.db

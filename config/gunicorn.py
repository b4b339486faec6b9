"""gunicorn settings: `gunicorn -c config/gunicorn.py wsgi:app`."""
import multiprocessing
import os
import tempfile

# Loopback unless told otherwise: `make run` serves the demo (known users, the sandbox) to this machine
# only. A container, or a host behind its own proxy, sets BIND=0.0.0.0:8000 (the Dockerfile does).
bind = os.environ.get("BIND", "127.0.0.1:8000")

# A shared Redis: a server (REDIS_URL) or a cluster (REDIS_CLUSTER_NODES); else the embedded default's in-process one.
SHARED_REDIS = bool(os.environ.get("REDIS_URL", "").strip() or os.environ.get("REDIS_CLUSTER_NODES", "").strip())

if SHARED_REDIS:
    # A shared Redis server: one worker per core and one more, as gunicorn advises.
    workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
else:
    # The embedded default keeps Redis in-process: every worker would get its own, so run one.
    workers = 1
# Two threads a worker: one request's wait on Redis or the database is covered by the other, and the GIL is
# shared by two, not four. Measured under the consumer scan (bench/consumer_scans.py, 5 workers): with 4
# threads the web workers spent some 2,200 µs of CPU a scan against 940 in one thread in-process, most of
# the difference GIL hand-offs between threads; 2 threads spent about 1,700-2,100 (docs/benchmarks.md).
threads = int(os.environ.get("GUNICORN_THREADS", 2))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
# The app is loaded once in the master and forked into each worker. On HUP, gunicorn starts the new workers
# and stops the old ones at once: without preloading, nobody would accept requests while the new workers
# import the app (seconds; bench/reload.py measured a 7 s stall). Preloaded, a new worker is a fork, ready
# at once. The price: HUP reloads settings, not code; deploy code by a rolling restart of the containers
# (docs/failure-modes.md). GUNICORN_PRELOAD=0 turns it off.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
keepalive = 5
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# The background work of the embedded default (app/platform/embedded.py). With REDIS_URL the stack runs
# `flask payouts work` and `flask webhooks work` beside the web process (docker-compose.yml); the embedded
# default (`make run`) has one web process whose Redis and WeChat sandbox are in-process, so a worker
# process of its own would pay through a sandbox of its own: the web worker runs the payout and webhook
# workers in threads instead (PAYOUT_WORKER_THREAD=0 / WEBHOOK_WORKER_THREAD=0 turn them off), points the
# sandbox's WeChat Pay callbacks at this server and prints the sandbox's transfers page. (The scan-log
# worker, `flask consumers persist-scans`, is not needed there: without REDIS_URL a consumer scan writes
# its own record, CONSUMER_SCAN_WRITER=inline.)


# Each worker counts its requests in files here; a scrape of /metrics adds every worker's up (app.metrics).
# Made before the app is preloaded; emptied once the master starts, before it forks a worker: the files of a
# previous run's workers would count again.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"matong-metrics-{os.getpid()}"))
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def on_starting(server):
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    from app.platform import request_metrics

    request_metrics.worker_exited(worker.pid)


def post_worker_init(worker):
    from app.extensions import db
    from app.platform import request_metrics

    with worker.wsgi.app_context():
        db.engine.dispose(close=False)  # connections forked from the master stay the master's
        request_metrics.worker_started(db.engine)
    if SHARED_REDIS:
        return
    from app.platform import embedded

    embedded.start(worker.wsgi, bind=worker.cfg.bind[0] if worker.cfg.bind else bind,
                   payouts=os.environ.get("PAYOUT_WORKER_THREAD", "1") != "0",
                   webhooks=os.environ.get("WEBHOOK_WORKER_THREAD", "1") != "0",
                   echo=lambda line: print(line, flush=True))

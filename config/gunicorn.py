"""gunicorn settings: `gunicorn -c config/gunicorn.py wsgi:app`."""
import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")

if os.environ.get("REDIS_URL"):
    # A shared Redis server: one worker per core and one more, as gunicorn advises.
    workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
else:
    # The embedded default keeps Redis in-process: every worker would get its own, so run one.
    workers = 1
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

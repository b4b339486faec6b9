"""The baselines of the HTTP benchmarks: a bare Flask app, nothing of Matong's in it.

    BIND=127.0.0.1:8011 DATABASE_URL=mysql+pymysql://... .venv/bin/gunicorn -c config/gunicorn.py bench.bare_app:app

- ``POST /bare`` reads the JSON body and the bearer token as a real view would (no database, no
  Redis) and answers 201 with a small JSON document: what Flask and gunicorn cost per request on
  their own, under the same gunicorn settings as the app (bench/consumer_scans.py runs both).
- ``POST /bare-redis`` does the least a scan kept in Redis must: look the bearer token up by its
  hash in Redis (``bench:token:<sha256>`` -> user id, written by the benchmark's set-up), then one
  Lua script that hands out an id, keeps the record as a hash and appends its id to a stream (the
  shape of app.consumers.scan_log, without the counters, the copy check or any unit): two Redis
  round trips, no database.
- ``POST /bare-db`` does the least a recorded scan must: look the bearer token up by its hash in
  ``app_access_tokens``, insert one row into ``bench_bare_scans`` and commit (SQLAlchemy Core, one
  pooled connection per request): the floor the database puts under any endpoint that writes.
"""
from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import redis
import sqlalchemy as sa
from flask import Flask, request

app = Flask(__name__)

metadata = sa.MetaData()
bare_scans = sa.Table("bench_bare_scans", metadata,
                      sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                      sa.Column("app_user_id", sa.BigInteger), sa.Column("url", sa.String(500)),
                      sa.Column("scanned_at", sa.DateTime))
_engine = None
_redis = None
BARE_STREAM = "bench:bare:stream"
_RECORD_LUA = """
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2] .. id, 'app_user_id', ARGV[1], 'url', ARGV[2], 'scanned_at', ARGV[3])
redis.call('XADD', KEYS[3], '*', 'id', id)
return id
"""


def engine():
    global _engine
    if _engine is None:
        _engine = sa.create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
    return _engine


def redis_client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _redis


def _token() -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


@app.post("/bare")
def bare():
    body = request.get_json()
    return {"ok": True, "echo": body.get("url") or body.get("code"), "token_chars": len(_token())}, 201


@app.post("/bare-redis")
def bare_redis():
    body = request.get_json()
    client = redis_client()
    user_id = client.get("bench:token:" + hashlib.sha256(_token().encode()).hexdigest())
    if user_id is None:
        return {"error": "token_invalid"}, 401
    scan_id = client.eval(_RECORD_LUA, 3, "bench:bare:ids", "bench:bare:scan:", BARE_STREAM, user_id,
                          body.get("url") or body.get("code"), datetime.now(UTC).isoformat())
    return {"ok": True, "scan_id": scan_id}, 201


@app.post("/bare-db")
def bare_db():
    body = request.get_json()
    token_hash = hashlib.sha256(_token().encode()).hexdigest()
    with engine().begin() as conn:
        user_id = conn.execute(sa.text("SELECT app_user_id FROM app_access_tokens WHERE token_hash = :h"),
                               {"h": token_hash}).scalar()
        if user_id is None:
            return {"error": "token_invalid"}, 401
        scan_id = conn.execute(bare_scans.insert().values(
            app_user_id=user_id, url=body.get("url") or body.get("code"),
            scanned_at=datetime.now(UTC).replace(tzinfo=None))).inserted_primary_key[0]
    return {"ok": True, "scan_id": scan_id}, 201

"""The baselines of the HTTP benchmarks: a bare Flask app, nothing of Matong's in it.

    BIND=127.0.0.1:8011 DATABASE_URL=mysql+pymysql://... .venv/bin/gunicorn -c config/gunicorn.py bench.bare_app:app

- ``POST /bare`` reads the JSON body and the bearer token as a real view would (no database, no
  Redis) and answers 201 with a small JSON document: what Flask and gunicorn cost per request on
  their own, under the same gunicorn settings as the app (bench/consumer_scans.py runs both).
- ``POST /bare-db`` does the least a recorded scan must: look the bearer token up by its hash in
  ``app_access_tokens``, insert one row into ``bench_bare_scans`` and commit (SQLAlchemy Core, one
  pooled connection per request): the floor the database puts under any endpoint that writes.
"""
from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, request

app = Flask(__name__)

metadata = sa.MetaData()
bare_scans = sa.Table("bench_bare_scans", metadata,
                      sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                      sa.Column("app_user_id", sa.BigInteger), sa.Column("url", sa.String(500)),
                      sa.Column("scanned_at", sa.DateTime))
_engine = None


def engine():
    global _engine
    if _engine is None:
        _engine = sa.create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
    return _engine


def _token() -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


@app.post("/bare")
def bare():
    body = request.get_json()
    return {"ok": True, "echo": body.get("url") or body.get("code"), "token_chars": len(_token())}, 201


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

"""What a multi-primary Galera cluster asks of the schema and the code (docs/galera.md), and that the suite's
sessions really spread over the cluster's nodes when it runs on one (tests/galera.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.concurrency import at_once
from tests.galera import node_urls

ROOT = Path(__file__).resolve().parents[2]


def test_every_table_has_a_primary_key(app):
    # Galera replicates rows by their key: a table without one is replicated badly (or, with
    # wsrep_certify_nonPK off, not at all), and its DELETEs are full scans on every node.
    inspector = sa.inspect(db.engine)
    without = [name for name in inspector.get_table_names()
               if not inspector.get_pk_constraint(name)["constrained_columns"]]
    assert without == []


def test_the_code_takes_no_table_locks():
    # LOCK TABLES and GET_LOCK hold on one node only; Galera replicates neither.
    found = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "app").rglob("*.py")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"LOCK\s+TABLES?\b|GET_LOCK\s*\(", line, re.I)]
    assert found == []


@pytest.fixture
def galera(app):
    if len(node_urls()) < 2:
        pytest.skip("runs on a Galera cluster: set MATONG_TEST_DATABASE_NODES (.ci/galera start)")


def test_a_races_sessions_land_on_different_nodes(app, galera):
    def node():
        return db.session.execute(sa.text("SELECT @@wsrep_node_name")).scalar()

    names = at_once(app, *([node] * 6))
    assert all(isinstance(name, str) for name in names), names
    assert len(set(names)) >= 2, names


def test_statements_wait_for_what_other_nodes_committed(app, galera):
    row = db.session.execute(sa.text("SELECT @@wsrep_on, @@wsrep_sync_wait")).one()
    assert row[0] == 1 and row[1] == app.config["DATABASE_SYNC_WAIT"] == 7

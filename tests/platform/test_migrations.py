"""The schema comes only from migrations: they build it from nothing, match the models, undo cleanly."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db


def _tables():
    return set(sa.inspect(db.engine).get_table_names())


def _schema_differences():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(context, db.metadata)


def test_downgrade_to_base_then_upgrade_head_rebuilds_the_schema(app):
    db.session.remove()
    downgrade(revision="base")
    assert _tables() <= {"alembic_version"}
    upgrade()
    assert {t.name for t in db.metadata.sorted_tables} <= _tables()


def test_the_migrated_schema_matches_the_models(app):
    assert _schema_differences() == []

"""request_id on payouts, outbound events and export jobs: a worker's log lines name the request that queued
its item (app.platform.logs)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 22:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

TABLES = ('payouts', 'outbound_events', 'export_jobs')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('request_id')

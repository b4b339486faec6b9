"""reports: the consumer day's first scan id (its region no longer depends on write order); indexes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_consumer_days', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_scan_id', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('report_consumer_days', schema=None) as batch_op:
        batch_op.drop_column('first_scan_id')

"""report_consumer_days: scans per consumer and day, the consumer's previous day; report_consumers (segments)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 15:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_consumer_days', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scans', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('prev_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('first_scan_id', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_index('ix_report_consumer_days_user', ['app_user_id', 'day'], unique=False)
        batch_op.create_index('ix_report_consumer_days_prev', ['prev_day'], unique=False)
    op.create_table('report_consumers',
    sa.Column('app_user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('scans', sa.BigInteger(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('app_user_id', name=op.f('pk_report_consumers'))
    )
    # Rows written before this revision count one scan and no previous day: `flask reports rebuild`
    # over their days recomputes both, and the consumers' totals.


def downgrade():
    op.drop_table('report_consumers')
    with op.batch_alter_table('report_consumer_days', schema=None) as batch_op:
        batch_op.drop_index('ix_report_consumer_days_prev')
        batch_op.drop_index('ix_report_consumer_days_user')
        batch_op.drop_column('first_scan_id')
        batch_op.drop_column('prev_day')
        batch_op.drop_column('scans')

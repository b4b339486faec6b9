"""sale scans: an index by time (the back office's clerk ranking over a period)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sale_scans', schema=None) as batch_op:
        batch_op.create_index('ix_sale_scans_time', ['scanned_at', 'app_user_id', 'store_id', 'region_code'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('sale_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_scans_time')

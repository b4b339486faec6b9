"""recalls.public_notice: what the brand tells whoever opens a recalled unit's printed URL

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-11 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recalls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_notice', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('recalls', schema=None) as batch_op:
        batch_op.drop_column('public_notice')

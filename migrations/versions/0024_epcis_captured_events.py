"""epcis_captured_events: each captured eventID's content hash, so a reused eventID is refused

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 17:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'epcis_captured_events',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('event_key', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.String(length=512), nullable=False),
        sa.Column('content_hash', sa.String(length=128), nullable=False),
        sa.Column('captured_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('source', 'event_key', name=op.f('pk_epcis_captured_events')),
    )


def downgrade():
    op.drop_table('epcis_captured_events')

"""payouts in doubt and the incidents people handle

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:40:00

"""
from alembic import op
import sqlalchemy as sa

import app.db

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'held', 'creating', 'waiting', 'processing', 'succeeded', 'failed', 'cancelled',
            'in_doubt')


def upgrade():
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('doubt_from', sa.Enum(*STATUSES, name='payoutstatus', native_enum=False,
                                                            length=16), nullable=True))
        batch_op.add_column(sa.Column('in_doubt_since', app.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_create_at', app.db.UTCDateTime(), nullable=True))
    op.create_table('payout_incidents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payout_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('in_doubt', 'unrecovered', 'reconcile', name='incidentkind', native_enum=False,
                              length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_payout_incidents_payout_id_payouts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_incidents')),
    sa.UniqueConstraint('payout_id', 'kind', name=op.f('uq_payout_incidents_payout_id_kind'))
    )


def downgrade():
    op.drop_table('payout_incidents')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_column('last_create_at')
        batch_op.drop_column('in_doubt_since')
        batch_op.drop_column('doubt_from')

"""unit_epcs: RFID identifiers (SGTIN-96 EPCs, TIDs) bound to units' codes, one code per EPC ever

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 15:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'unit_epcs',
        sa.Column('epc', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('serial', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('bound_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('epc', name=op.f('pk_unit_epcs')),
    )
    with op.batch_alter_table('unit_epcs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_epcs_serial'), ['serial'], unique=False)


def downgrade():
    with op.batch_alter_table('unit_epcs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_epcs_serial'))
    op.drop_table('unit_epcs')

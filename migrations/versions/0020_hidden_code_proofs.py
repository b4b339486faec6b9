"""hidden_code_proofs: the first consumer who proved each unit's hidden code

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 19:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'hidden_code_proofs',
        sa.Column('serial', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('app_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('scan_id', sa.BigInteger(), nullable=False),
        sa.Column('proved_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_hidden_code_proofs_app_user_id_app_users')),
        sa.PrimaryKeyConstraint('serial', name=op.f('pk_hidden_code_proofs')),
    )


def downgrade():
    op.drop_table('hidden_code_proofs')

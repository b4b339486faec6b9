"""points_cash_rates and points_conversions: clerks turn points into cash at the brand's rate

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-04 15:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.db

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
RECORD_ID = sa.String(length=64).with_variant(mysql.VARCHAR(collation='utf8mb4_bin', length=64), 'mariadb') \
    .with_variant(mysql.VARCHAR(collation='utf8mb4_bin', length=64), 'mysql')


def upgrade():
    op.create_table('points_cash_rates',
    sa.Column('id', ID, nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('fen', sa.BigInteger(), nullable=False),
    sa.Column('min_points', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('fen > 0', name=op.f('ck_points_cash_rates_fen_positive')),
    sa.CheckConstraint('min_points >= 0', name=op.f('ck_points_cash_rates_min_points_not_negative')),
    sa.CheckConstraint('points > 0', name=op.f('ck_points_cash_rates_points_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_cash_rates'))
    )
    op.create_table('points_conversions',
    sa.Column('id', ID, nullable=False),
    sa.Column('app_user_id', ID, nullable=False),
    sa.Column('request_id', RECORD_ID, nullable=False),
    sa.Column('rate_id', ID, nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_points_conversions_amount_positive')),
    sa.CheckConstraint('points > 0', name=op.f('ck_points_conversions_points_positive')),
    sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_points_conversions_app_user_id_app_users')),
    sa.ForeignKeyConstraint(['rate_id'], ['points_cash_rates.id'],
                            name=op.f('fk_points_conversions_rate_id_points_cash_rates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_conversions')),
    sa.UniqueConstraint('app_user_id', 'request_id', name=op.f('uq_points_conversions_app_user_id_request_id'))
    )
    with op.batch_alter_table('points_conversions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_conversions_app_user_id'), ['app_user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('points_conversions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_conversions_app_user_id'))
    op.drop_table('points_conversions')
    op.drop_table('points_cash_rates')

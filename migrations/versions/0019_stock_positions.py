"""stock positions of every holder (warehouse, dealer, store) by day received, and their daily outflow

Replaces the warehouse-only `stock` table. Filled from the units: an item in stock is dated the
China day of its last change (updated_at + 8 h), the nearest the units say of when it arrived.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10 09:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_HOLDER = sa.Enum('warehouse', 'dealer', 'store', name='holderkind', native_enum=False, length=16)
_IN_STOCK = ("level = 'item' AND status = 'active' AND in_transit = 0 AND lot_id IS NOT NULL"
             " AND location_kind IN ('warehouse', 'dealer', 'store')")


def _china_day(column: str) -> str:
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        return f"DATE({column} + INTERVAL 8 HOUR)"
    return f"date({column}, '+8 hours')"


def upgrade():
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_on', sa.Date(), nullable=True))

    op.create_table('stock_positions',
    sa.Column('holder_kind', _HOLDER, nullable=False),
    sa.Column('holder_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('product_id', _ID, nullable=False),
    sa.Column('lot_id', _ID, nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_stock_positions_quantity_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['production_lots.id'], name=op.f('fk_stock_positions_lot_id_production_lots')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_positions_product_id_products')),
    sa.PrimaryKeyConstraint('holder_kind', 'holder_id', 'product_id', 'lot_id', 'received_on',
                            name=op.f('pk_stock_positions'))
    )
    with op.batch_alter_table('stock_positions', schema=None) as batch_op:
        batch_op.create_index('ix_stock_positions_product', ['product_id', 'lot_id'], unique=False)

    op.create_table('stock_outflow',
    sa.Column('holder_kind', _HOLDER, nullable=False),
    sa.Column('holder_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('product_id', _ID, nullable=False),
    sa.Column('lot_id', _ID, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_stock_outflow_quantity_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['production_lots.id'], name=op.f('fk_stock_outflow_lot_id_production_lots')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_outflow_product_id_products')),
    sa.PrimaryKeyConstraint('holder_kind', 'holder_id', 'product_id', 'lot_id', 'day', name=op.f('pk_stock_outflow'))
    )
    with op.batch_alter_table('stock_outflow', schema=None) as batch_op:
        batch_op.create_index('ix_stock_outflow_day', ['day', 'holder_kind', 'holder_id', 'product_id', 'lot_id',
                                                       'quantity'], unique=False)

    # The items in stock now, dated, then counted into their positions.
    op.execute(f"UPDATE units SET received_on = {_china_day('updated_at')} WHERE {_IN_STOCK}")
    op.execute("INSERT INTO stock_positions (holder_kind, holder_id, product_id, lot_id, received_on, quantity)"
               " SELECT location_kind, location_id, product_id, lot_id, received_on, COUNT(*) FROM units"
               f" WHERE {_IN_STOCK} GROUP BY location_kind, location_id, product_id, lot_id, received_on")
    op.drop_table('stock')


def downgrade():
    op.create_table('stock',
    sa.Column('warehouse_id', _ID, nullable=False),
    sa.Column('product_id', _ID, nullable=False),
    sa.Column('lot_id', _ID, nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_stock_quantity_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['production_lots.id'], name=op.f('fk_stock_lot_id_production_lots')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_product_id_products')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('warehouse_id', 'product_id', 'lot_id', name=op.f('pk_stock'))
    )
    op.execute("INSERT INTO stock (warehouse_id, product_id, lot_id, quantity)"
               " SELECT holder_id, product_id, lot_id, SUM(quantity) FROM stock_positions"
               " WHERE holder_kind = 'warehouse' GROUP BY holder_id, product_id, lot_id")
    op.drop_table('stock_outflow')
    op.drop_table('stock_positions')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('received_on')

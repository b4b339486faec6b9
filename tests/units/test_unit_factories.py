import sqlalchemy as sa
from app.extensions import db
from app.stock.models import StockPosition
from app.units.models import Unit
from tests.production_factories import make_production_lot, make_line
from tests.masterdata_factories import make_factory
from tests import unit_factories as uf
from app.masterdata import places
from app.db import transaction

def test_factories(app):
    f = make_factory()
    line = make_line(f.id)
    with transaction():
        wh = places.create_warehouse(actor=uf.ACTOR, data={"name": "W", "factory_id": f.id})
    lot = make_production_lot(factory_id=f.id, line_id=line.id)
    items = uf.commission(lot, 48)
    c1 = uf.pack(items[:24]); c2 = uf.pack(items[24:])
    p = uf.pack([c1, c2], level="pallet")
    uf.receive([p], warehouse_id=wh.id)
    assert db.session.scalar(sa.select(sa.func.sum(StockPosition.quantity))) == 48
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 51

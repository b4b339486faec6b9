"""Back-office master data: products, factories and lines, warehouses, regions, dealers, stores."""
from app.admin_api.masterdata import dealers, places, products, regions, stores

BLUEPRINTS = (products.blp, places.factories, places.lines, places.warehouses, regions.blp,
              dealers.blp, stores.blp)

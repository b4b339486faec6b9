"""Master data: products, factories, lines, warehouses, regions, dealers, stores."""

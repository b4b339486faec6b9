"""Channel: ERP sales orders, shipments and receipts between warehouse, dealers and stores, anti-diversion."""

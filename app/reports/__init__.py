"""Reports: daily rollups kept by the writers, rebuilt from the source rows on demand, and the reports read from them."""

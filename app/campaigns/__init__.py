"""Consumer campaigns: prizes drawn when a consumer scans a genuine unit."""

"""Production: production lots, materials, suppliers, raw-material lots and what each lot consumed."""

"""Cross-domain use cases: one flow calls several domains, so no domain has to import another that sits beside it."""

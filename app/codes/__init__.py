"""Code issuance (赋码): the code format, batches as reserved serial ranges, code packs, labels."""

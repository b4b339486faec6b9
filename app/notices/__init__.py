"""Notices: short messages the brand posts to a dealer or a store, read in their mini-programs."""

"""Consumers\x27 points: a ledger per user and the points mall."""

"""Plumbing that every worker shares (liveness heartbeats)."""

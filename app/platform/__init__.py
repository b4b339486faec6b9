"""Shared plumbing below every domain: rate limits, settings, the business clock, the worker loop and its
leases and heartbeats, after-commit side effects (docs/architecture.md, "Shared plumbing")."""

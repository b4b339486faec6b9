"""Traceability: a code's tree and timeline, the recall view and action, raw-material trace."""

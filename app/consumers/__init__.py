"""Consumers: scans of printed codes, verdicts, the trace story, leak alerts."""

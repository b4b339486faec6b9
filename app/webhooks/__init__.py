"""Outbound events for the ERP: pull cursors and signed webhooks."""

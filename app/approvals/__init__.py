"""Dual control: actions one back-office user requests and a second one approves."""

"""Stores and clerks: sale scans, rewards, withdrawals, rankings, training."""

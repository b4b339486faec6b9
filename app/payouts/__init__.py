"""Payouts to WeChat users (prizes, withdrawals): the durable queue and its worker."""

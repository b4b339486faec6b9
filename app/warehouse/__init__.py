"""Warehouse moves (inbound, outbound, transfer) and stock."""

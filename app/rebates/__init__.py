"""Dealer rebates: rules and statements from verified flows."""

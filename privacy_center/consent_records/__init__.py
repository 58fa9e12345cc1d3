"""Consent records in the staff console: receipts found, exported, and the daily dashboard."""

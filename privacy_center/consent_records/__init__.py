"""Consent records in the staff console: receipts found, exported, and the daily dashboard.

- ``views.py``: the pages for the DPO and admins (search, CSV or JSON export, dashboard), over
  consent/records.py and consent/dashboard.py; ``setup.py``: their wiring.
"""

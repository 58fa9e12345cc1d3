"""Account holders: sign-in (password or emailed link) and communication preferences.

- ``services.py``: signing in, preferences, one-click unsubscribe; ``passwords.py``: argon2id;
- ``views.py``, ``forms.py``, ``setup.py``: the account pages and their wiring;
- ``demo.py``: the demo account holders, with data in every category the policy lists;
  ``demo_cli.py``: ``flask demo seed`` (the demo operator's sites, accounts and rollup).
"""

"""Retention and the data lifecycle: the policy's periods, enforced in batches.

- ``rules.py``: how each period of ``content/retention.yaml`` is enforced (its ``enforce`` part);
- ``steps.py``: what every step is (a batch walk over one table), ``Context``, ``RetentionError``;
- the steps by kind: ``inactive_accounts.py`` (warn, deactivate), ``erasure.py`` (erase
  deactivated accounts through the connectors, delete the evidence), ``deletions.py`` (rows of
  any table, invoices, consent receipts, closed requests, identity documents);
- what keeps an account active: ``activity_sources.py`` (the sources declared in retention.yaml),
  ``activity.py`` (recorded, collected once per run, selected), ``activity_links.py`` (tracked
  links in the operator's emails), ``activity_views.py`` (the links and the mailer's API);
- ``services.py``: plan and run the rules (``flask --app wsgi retention run``), the runs' record;
- ``views.py``, ``cli.py``, ``setup.py``: the staff page (/staff/retention) and the commands.
"""

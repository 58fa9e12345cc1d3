"""Retention and the data lifecycle: the policy's periods, enforced in batches.

``rules.py`` reads how each period of ``content/retention.yaml`` is enforced (its ``enforce``
part), ``services.py`` plans and runs them (``flask --app wsgi retention run``), ``views.py`` is
the staff page (/staff/retention).
"""

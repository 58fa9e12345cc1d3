"""The consent widget: its files, its configuration, and proof of every choice.

- ``widget.py``, ``texts.py``: the widget's builds and its words;
- ``views.py``, ``intake.py``, ``writer.py``: the widget's configuration and the receipts API
  (``/api/v1``), answered by Flask or the WSGI intake, written by group commit;
- ``configuration.py``: what the banner needs in the script, the dialog's full configuration;
- ``services.py``, ``choices.py``: proof of consent (a receipt checked and stored), services;
- ``rollup.py``, ``dashboard.py``: the daily rollup and the dashboard's figures;
- ``records.py``, ``cli.py``: receipts found and exported for staff, ``flask consent receipt``.
"""

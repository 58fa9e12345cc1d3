"""The cookie scanner: the operator's site, visited in Chromium, checked against the registry.

- ``scanner.py``: the browser passes (three fresh profiles); ``compare.py``: what was seen,
  against ``content/cookies.yaml``; ``report.py``: the report (terminal, JSON, HTML);
- ``services.py``: the scan as a service, the last run kept;
- ``cli.py``, ``views.py``, ``setup.py``: ``flask cookies scan`` and the staff page.
"""
